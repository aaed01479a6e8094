//! Checks a JUnit document against the facts of Jenkins' `junit-10.xsd`
//! written down in `tests/fixtures/junit-10-facts.json`: the element tree,
//! each element's attributes, required attributes, attribute types, and
//! whether text may appear. Returns every violation, not just the first.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

#[derive(Deserialize)]
struct Facts {
    types: BTreeMap<String, Option<String>>,
    roots: Vec<String>,
    elements: BTreeMap<String, Element>,
}

#[derive(Deserialize)]
struct Element {
    attributes: BTreeMap<String, String>,
    required: Vec<String>,
    children: Vec<String>,
    text: bool,
}

fn facts() -> Facts {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit-10-facts.json");
    let text = std::fs::read_to_string(&path).expect("the junit-10 facts fixture");
    serde_json::from_str(&text).expect("the junit-10 facts are JSON of the expected shape")
}

/// Every way `xml` breaks `junit-10.xsd`; empty when it is valid.
pub fn violations(xml: &str) -> Vec<String> {
    let facts = facts();
    // An XSD pattern matches the whole value.
    let patterns: BTreeMap<&str, Option<regex::Regex>> = facts
        .types
        .iter()
        .map(|(name, p)| {
            let re = p
                .as_ref()
                .map(|p| regex::Regex::new(&format!("^(?:{p})$")).expect("the fixture's patterns compile"));
            (name.as_str(), re)
        })
        .collect();
    let doc = match roxmltree::Document::parse(xml) {
        Ok(doc) => doc,
        Err(e) => return vec![format!("not well-formed XML: {e}")],
    };
    let mut found = Vec::new();
    let root = doc.root_element();
    if !facts.roots.iter().any(|r| r == root.tag_name().name()) {
        found.push(format!(
            "root element <{}> is not one of {:?}",
            root.tag_name().name(),
            facts.roots
        ));
    }
    for node in root.descendants().filter(|n| n.is_element()) {
        let name = node.tag_name().name();
        let at = doc.text_pos_at(node.range().start);
        let Some(element) = facts.elements.get(name) else {
            found.push(format!("{at}: <{name}> is not an element of junit-10.xsd"));
            continue;
        };
        if node.tag_name().namespace().is_some() {
            found.push(format!("{at}: <{name}> has a namespace; junit-10.xsd has none"));
        }
        for attr in node.attributes() {
            match element.attributes.get(attr.name()) {
                None => found.push(format!("{at}: <{name}> may not carry `{}`", attr.name())),
                Some(ty) => {
                    let pattern = patterns
                        .get(ty.as_str())
                        .unwrap_or_else(|| panic!("type {ty} is in the facts"));
                    if let Some(re) = pattern
                        && !re.is_match(attr.value())
                    {
                        found.push(format!(
                            "{at}: <{name} {}=\"{}\"> is not a {ty}",
                            attr.name(),
                            attr.value()
                        ));
                    }
                }
            }
        }
        for required in &element.required {
            if node.attribute(required.as_str()).is_none() {
                found.push(format!("{at}: <{name}> lacks the required `{required}`"));
            }
        }
        for child in node.children() {
            if child.is_element() {
                let child_name = child.tag_name().name();
                if !element.children.iter().any(|c| c == child_name) {
                    found.push(format!("{at}: <{name}> may not contain <{child_name}>"));
                }
            } else if child.is_text() && !element.text && child.text().is_some_and(|t| !t.trim().is_empty()) {
                found.push(format!("{at}: <{name}> may not contain text"));
            }
        }
    }
    found
}

/// Panics with every violation, and the document, unless `xml` is valid.
pub fn assert_valid(xml: &str) {
    let found = violations(xml);
    assert!(
        found.is_empty(),
        "not valid by junit-10.xsd:\n{}\n\n{xml}",
        found.join("\n")
    );
}
