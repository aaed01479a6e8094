//! The JSON report: the model serialised as is, pretty-printed.

use std::io;

use super::{RenderOptions, Renderer, Report};

pub struct Json;

impl Renderer for Json {
    fn render(&self, report: &Report, out: &mut dyn io::Write, _opts: RenderOptions) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::other)?;
        writeln!(out)
    }
}
