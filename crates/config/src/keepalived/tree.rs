//! keepalived.conf's statement tree: words grouped into keyword lines by the line they were
//! written on, `{ }` blocks nested under the statement they follow, and the messages for a
//! stray or unclosed brace. Fed with tokens by `lexer`; knows no keyword.

use crate::diagnostics::{Diagnostics, Span};

/// One word as written (quotes removed), with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub span: Span,
    pub quoted: bool,
}

/// A keyword line: its words and, when followed by `{ ... }`, its block.
#[derive(Debug, Clone)]
pub struct Stmt {
    /// Never empty.
    pub words: Vec<Word>,
    pub block: Option<Block>,
}

impl Stmt {
    pub fn keyword(&self) -> &str {
        self.words.first().map_or("", |w| w.text.as_str())
    }
    pub fn span(&self) -> &Span {
        &self.words[0].span
    }
    pub fn args(&self) -> &[Word] {
        &self.words[1..]
    }
}

#[derive(Debug, Clone)]
pub struct Block {
    /// Where the `{` was written.
    pub open: Span,
    pub stmts: Vec<Stmt>,
}

/// What the lexer hands the tree builder.
#[derive(Debug, Clone)]
pub(super) enum Tok {
    /// `line` is unique per physical line across all files, so words group into statements.
    Word {
        word: Word,
        line: u64,
    },
    Open(Span),
    Close(Span),
}

struct Frame {
    /// Index of the statement owning the block in the parent's list; None for a stray `{`.
    owner: Option<usize>,
    block: Block,
}

/// Groups tokens into statements (words of one line) and nests `{ }` blocks.
pub(super) fn build_tree(toks: Vec<Tok>, diags: &mut Diagnostics) -> Vec<Stmt> {
    let mut top: Vec<Stmt> = Vec::new();
    let mut frames: Vec<Frame> = Vec::new();
    // Words of the statement being built, and the line they are on.
    let mut cur: Vec<Word> = Vec::new();
    let mut cur_line = u64::MAX;
    // Whether the last thing seen was a statement that may still take a block.
    let mut may_open = false;

    fn current<'a>(top: &'a mut Vec<Stmt>, frames: &'a mut [Frame]) -> &'a mut Vec<Stmt> {
        match frames.last_mut() {
            Some(f) => &mut f.block.stmts,
            None => top,
        }
    }
    fn flush(cur: &mut Vec<Word>, list: &mut Vec<Stmt>) -> bool {
        if cur.is_empty() {
            return false;
        }
        list.push(Stmt {
            words: std::mem::take(cur),
            block: None,
        });
        true
    }

    for tok in toks {
        match tok {
            Tok::Word { word, line } => {
                if line != cur_line {
                    flush(&mut cur, current(&mut top, &mut frames));
                    cur_line = line;
                }
                cur.push(word);
                may_open = true;
            }
            Tok::Open(span) => {
                flush(&mut cur, current(&mut top, &mut frames));
                cur_line = u64::MAX;
                let list = current(&mut top, &mut frames);
                let owner = if may_open && list.last().is_some_and(|s| s.block.is_none()) {
                    Some(list.len() - 1)
                } else {
                    diags.error(&span, "unexpected '{': expected a keyword such as 'vrrp_instance NAME' before it; block skipped");
                    None
                };
                frames.push(Frame {
                    owner,
                    block: Block {
                        open: span,
                        stmts: Vec::new(),
                    },
                });
                may_open = false;
            }
            Tok::Close(span) => {
                flush(&mut cur, current(&mut top, &mut frames));
                cur_line = u64::MAX;
                may_open = false;
                match frames.pop() {
                    Some(frame) => attach(frame, &mut top, &mut frames),
                    None => diags.error(&span, "unexpected '}': no block is open here"),
                }
            }
        }
    }
    flush(&mut cur, current(&mut top, &mut frames));
    while let Some(frame) = frames.pop() {
        let owner = frame
            .owner
            .and_then(|i| current(&mut top, &mut frames).get(i));
        let what = owner.map_or_else(|| "'{'".to_string(), |s| format!("'{}' block", describe(s)));
        diags.error(
            &frame.block.open,
            format!("{what} opened here is never closed: expected '}}' before the end of the file"),
        );
        attach(frame, &mut top, &mut frames);
    }
    top
}

fn attach(frame: Frame, top: &mut Vec<Stmt>, frames: &mut [Frame]) {
    let parent = match frames.last_mut() {
        Some(f) => &mut f.block.stmts,
        None => top,
    };
    if let Some(stmt) = frame.owner.and_then(|i| parent.get_mut(i)) {
        stmt.block = Some(frame.block);
    }
}

/// `vrrp_instance VI_1` — the keyword and its first argument, for messages.
pub fn describe(stmt: &Stmt) -> String {
    match stmt.words.get(1) {
        Some(w) => format!("{} {}", stmt.keyword(), w.text),
        None => stmt.keyword().to_string(),
    }
}
