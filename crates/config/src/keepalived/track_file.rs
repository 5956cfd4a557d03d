//! `track_file NAME { file PATH weight W [reverse] init_file [VALUE] [overwrite] }` (and its old
//! name `vrrp_track_file`): the files real servers' `FILE_CHECK` follow. Defaults as
//! keepalived.conf(5): weight 1, no init_file.

use super::args;
use super::checker::track_weight;
use super::lexer::Stmt;
use crate::diagnostics::Diagnostics;
use crate::model::TrackFile;

pub fn parse(stmt: &Stmt, d: &mut Diagnostics) -> Option<TrackFile> {
    let (name, span) = args::first_arg_or_error(stmt, stmt.keyword(), d)?;
    let body = args::block(stmt, d)?;
    let mut t = TrackFile {
        span,
        name,
        file: String::new(),
        weight: 1,
        reverse: false,
        init_file: None,
    };
    for kw in body {
        match kw.keyword() {
            "file" => {
                if let Some(w) = args::one(kw, d) {
                    t.file = w.text.clone();
                }
            }
            "weight" => {
                if let Some((w, r)) = track_weight(kw, d) {
                    t.weight = w;
                    t.reverse = r;
                }
            }
            "init_file" => {
                args::no_block(kw, d);
                let mut value = 0;
                let mut overwrite = false;
                for w in kw.args() {
                    if w.text == "overwrite" {
                        overwrite = true;
                    } else if let Some(v) =
                        args::int_in(w, "init_file", i64::from(i32::MIN), i64::from(i32::MAX), d)
                    {
                        value = v;
                    }
                }
                t.init_file = Some((value, overwrite));
            }
            _ => args::unknown(kw, "track_file", &["file", "weight", "init_file"], &[], d),
        }
    }
    if t.file.is_empty() {
        d.error(
            stmt.span(),
            format!("track_file {} has no 'file PATH'", t.name),
        );
        return None;
    }
    Some(t)
}
