// Shared by the two exposition targets (included with `include!`).

fn check_exposition(data: &[u8], format: Format) {
    let lines = data.split(|&b| b == b'\n').count();
    match parse_bytes(data, format) {
        Ok(exp) => {
            let problems = histogram_problems(&exp);
            for p in &problems {
                assert!(p.line >= 1 && p.line <= lines, "problem at line {} of {lines}: {p}", p.line);
            }
            let _ = exp.series_count();
            for family in &exp.families {
                assert!(family.line >= 1 && family.line <= lines);
                assert!(exp.find_family(family.name).is_some());
                for sample in &family.samples {
                    assert!(sample.line >= family.line && sample.line <= lines);
                }
            }
        }
        Err(e) => {
            assert!(e.line >= 1 && e.line <= lines, "error at line {} of {lines}: {e}", e.line);
            assert!(e.column >= 1, "column 0: {e}");
            assert!(!e.message.is_empty());
        }
    }
}
