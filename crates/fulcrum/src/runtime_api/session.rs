//! One runtime API connection, sans-IO: bytes in, commands out, HAProxy's framing back.
//!
//! As HAProxy: a line holds one or more commands separated by `;` (`\;` and `\ ` escape);
//! each answer ends with an empty line. Without `prompt` the connection answers the line(s)
//! received and closes; `prompt` toggles the interactive mode, where every answer is followed
//! by `> ` and the connection stays until `quit`, end of input or the idle timeout (`stats
//! timeout`, changed by `set timeout cli`). `operator` / `user` lower the session's level for
//! the commands that follow. A line longer than [`MAX_LINE`] is refused and the session closes.

use super::command::{self, Command, Parsed};
use super::Level;
use std::time::Duration;

/// HAProxy's CLI reads a command line into one buffer (tune.bufsize, 16 kB by default).
pub const MAX_LINE: usize = 16 * 1024;

pub struct Session {
    level: Level,
    prompt: bool,
    input: Vec<u8>,
    timeout: Duration,
    eof: bool,
    quit: bool,
    answered: bool,
    /// A line that ended with `<<` and the payload lines read after it so far.
    pending: Option<(String, String)>,
}

/// One part of an answer: fixed text, or a command the caller runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Text(String),
    Run(Command),
}

/// The answers due for one line, in order, each followed by its terminator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    parts: Vec<(Item, &'static str)>,
}

impl Step {
    /// The commands to run against the process, in order.
    pub fn commands(&self) -> Vec<Command> {
        self.parts
            .iter()
            .filter_map(|(i, _)| match i {
                Item::Run(c) => Some(c.clone()),
                Item::Text(_) => None,
            })
            .collect()
    }

    /// The bytes to send, with `answers` (one per command of [`Step::commands`], in order).
    pub fn render(&self, answers: &[String]) -> Vec<u8> {
        let mut out = String::new();
        let mut answers = answers.iter();
        for (item, end) in &self.parts {
            match item {
                Item::Text(t) => out.push_str(t),
                Item::Run(_) => out.push_str(answers.next().map_or("", String::as_str)),
            }
            out.push_str(end);
        }
        out.into_bytes()
    }
}

impl Session {
    pub fn new(level: Level, timeout: Duration) -> Self {
        Session {
            level,
            prompt: false,
            input: Vec::new(),
            timeout,
            eof: false,
            quit: false,
            answered: false,
            pending: None,
        }
    }

    /// How long to wait for the next line before closing.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn receive(&mut self, data: &[u8]) {
        self.input.extend_from_slice(data);
    }

    /// The client closed its side: a last line without `\n` still counts.
    pub fn end_of_input(&mut self) {
        self.eof = true;
    }

    /// Whether the connection is done: `quit`, end of input with nothing left, or (not in
    /// prompt mode) every received line answered.
    pub fn should_close(&self) -> bool {
        let complete_line = self.input.contains(&b'\n')
            || (self.eof && (!self.input.is_empty() || self.pending.is_some()));
        self.quit || (!complete_line && (self.eof || (!self.prompt && self.answered)))
    }

    /// The next line's answers, or None until a full line is in. A line ending with `<<`
    /// starts a payload, read up to an empty line (or the end of input), as HAProxy 2.6.
    pub fn next_step(&mut self) -> Option<Step> {
        loop {
            if self.quit {
                return None;
            }
            let line: Vec<u8> = match self.input.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    let mut l: Vec<u8> = self.input.drain(..=i).collect();
                    l.pop();
                    l
                }
                None if self.input.len() > MAX_LINE => return Some(self.too_long()),
                None if self.eof && !self.input.is_empty() => std::mem::take(&mut self.input),
                None if self.eof && self.pending.is_some() => Vec::new(),
                None => return None,
            };
            if line.len() > MAX_LINE {
                return Some(self.too_long());
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.strip_suffix('\r').unwrap_or(&text).to_string();
            if let Some((cmd, mut payload)) = self.pending.take() {
                if text.is_empty() {
                    return Some(self.answer(&cmd, Some(&payload)));
                }
                payload.push_str(&text);
                payload.push('\n');
                if payload.len() > MAX_LINE {
                    return Some(self.too_long());
                }
                self.pending = Some((cmd, payload));
                continue;
            }
            if let Some(cmd) = text.strip_suffix("<<") {
                self.pending = Some((cmd.to_string(), String::new()));
                continue;
            }
            return Some(self.answer(&text, None));
        }
    }

    fn too_long(&mut self) -> Step {
        self.input.clear();
        self.quit = true;
        Step {
            parts: vec![(Item::Text("Command line too long.\n".into()), "\n")],
        }
    }

    /// The answers to one command line (with its payload, if it had one).
    fn answer(&mut self, text: &str, payload: Option<&str>) -> Step {
        self.answered = true;
        let commands = split_commands(text);
        let mut parts = Vec::new();
        let several = commands.len() > 1;
        for words in commands {
            if several && words.is_empty() {
                continue;
            }
            let refs: Vec<&str> = words.iter().map(String::as_str).collect();
            let parsed = match payload {
                Some(p) => command::parse_with_payload(&refs, self.level, p),
                None => command::parse(&refs, self.level),
            };
            let item = match parsed {
                Parsed::Answer(t) => Item::Text(t),
                Parsed::Run(c) => Item::Run(c),
                Parsed::Prompt => {
                    self.prompt = !self.prompt;
                    Item::Text(String::new())
                }
                Parsed::Quit => {
                    self.quit = true;
                    break;
                }
                Parsed::SetLevel(l) => {
                    self.level = l;
                    Item::Text(String::new())
                }
                Parsed::ShowLevel => Item::Text(format!("{}\n", self.level.keyword())),
                Parsed::SetTimeout(d) => {
                    self.timeout = d;
                    Item::Text(String::new())
                }
            };
            parts.push((item, if self.prompt { "\n> " } else { "\n" }));
        }
        Step { parts }
    }
}

/// Splits a line into commands (`;`) and each into words (blanks), with `\` escaping the next
/// character.
fn split_commands(line: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    word.push(n);
                    in_word = true;
                }
            }
            ';' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                commands.push(std::mem::take(&mut words));
            }
            c if c == ' ' || c == '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    commands.push(words);
    commands
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &mut Session, answer: &str) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(step) = s.next_step() {
            let answers: Vec<String> = step.commands().iter().map(|_| answer.to_string()).collect();
            out.push(String::from_utf8(step.render(&answers)).expect("utf8"));
        }
        out
    }

    #[test]
    fn one_line_then_close_as_haproxy() {
        let mut s = Session::new(Level::Admin, Duration::from_secs(10));
        assert!(!s.should_close());
        s.receive(b"get weight app/s2");
        assert_eq!(run(&mut s, "7 (initial 3)\n"), Vec::<String>::new());
        s.receive(b"\n");
        assert_eq!(run(&mut s, "7 (initial 3)\n"), ["7 (initial 3)\n\n"]);
        assert!(s.should_close());
    }

    #[test]
    fn several_commands_and_lines_received_together() {
        let mut s = Session::new(Level::Admin, Duration::from_secs(10));
        s.receive(b"get weight a/b;show cli level\nshow backend\n");
        assert_eq!(
            run(&mut s, "1 (initial 1)\n"),
            ["1 (initial 1)\n\nadmin\n\n", "1 (initial 1)\n\n"]
        );
        assert!(s.should_close());
    }

    #[test]
    fn level_changes_apply_to_the_next_commands() {
        let mut s = Session::new(Level::Admin, Duration::from_secs(10));
        s.receive(b"operator;set weight app/s2 3;show cli level;user;show cli level;operator\n");
        assert_eq!(
            run(&mut s, "?"),
            ["\nPermission denied\n\noperator\n\n\nuser\n\nPermission denied\n\n"]
        );
    }

    #[test]
    fn prompt_mode_keeps_the_connection_until_quit() {
        let mut s = Session::new(Level::User, Duration::from_secs(10));
        s.receive(b"prompt\n");
        assert_eq!(run(&mut s, ""), ["\n> "]);
        assert!(!s.should_close());
        s.receive(b"set timeout cli 60\n");
        assert_eq!(run(&mut s, ""), ["\n> "]);
        assert_eq!(s.timeout(), Duration::from_secs(60));
        s.receive(b"get weight a/b; show backend\n");
        assert_eq!(run(&mut s, "X\n"), ["X\n\n> X\n\n> "]);
        assert!(!s.should_close());
        s.receive(b"quit\nshow info\n");
        assert_eq!(run(&mut s, ""), [""]);
        assert!(s.should_close());
    }

    #[test]
    fn leaving_prompt_mode_closes_after_the_line() {
        let mut s = Session::new(Level::User, Duration::from_secs(10));
        s.receive(b"prompt\nprompt\n");
        assert_eq!(run(&mut s, ""), ["\n> ", "\n"]);
        assert!(s.should_close());
    }

    #[test]
    fn escapes_and_crlf() {
        assert_eq!(
            split_commands("a\\;b c"),
            vec![vec!["a;b".to_string(), "c".to_string()]]
        );
        let mut s = Session::new(Level::User, Duration::from_secs(10));
        s.receive(b"show cli level\r\n");
        assert_eq!(run(&mut s, ""), ["user\n\n"]);
    }

    #[test]
    fn too_long_a_line_is_refused() {
        let mut s = Session::new(Level::User, Duration::from_secs(10));
        s.receive(&vec![b'a'; MAX_LINE + 1]);
        assert_eq!(run(&mut s, ""), ["Command line too long.\n\n"]);
        assert!(s.should_close());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small LCG over command-like bytes: words, separators, escapes, control bytes.
        let alphabet: &[u8] = b"show stat info servers state weight set get app/s1 ;\\ \t\r\n\x00\xff%-0123456789prompt quit user operator";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let mut s = Session::new(Level::Admin, Duration::from_secs(10));
            let len = (seed >> 33) % 200;
            let mut input = Vec::new();
            for _ in 0..len {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                input.push(alphabet[((seed >> 33) % alphabet.len() as u64) as usize]);
            }
            s.receive(&input);
            s.end_of_input();
            let mut steps = 0;
            while let Some(step) = s.next_step() {
                let words: Vec<String> = step.commands().iter().map(|c| format!("{c:?}")).collect();
                let _ = step.render(&words);
                steps += 1;
                assert!(steps <= 200, "bounded by the input's lines");
            }
            assert!(s.should_close());
        }
    }

    #[test]
    fn a_payload_runs_with_its_command() {
        let mut s = Session::new(Level::Admin, Duration::from_secs(10));
        s.receive(b"set ssl cert /c.pem <<\n-----BEGIN X-----\nAAA\n");
        assert!(s.next_step().is_none(), "the payload is not complete");
        s.receive(b"\nshow cli level\n");
        let step = s.next_step().expect("a step");
        assert_eq!(
            step.commands(),
            [Command::SslCert(
                fulcrum_proxy::tls::store::SslCommand::Set(
                    "/c.pem".into(),
                    "-----BEGIN X-----\nAAA\n".into()
                )
            )]
        );
        assert_eq!(run(&mut s, ""), ["admin\n\n"]);
        // Unterminated payload at end of input: run, as haproxy does.
        let mut s = Session::new(Level::Admin, Duration::from_secs(10));
        s.receive(b"set ssl cert /c.pem <<\nPEM\n");
        assert!(s.next_step().is_none());
        s.end_of_input();
        assert!(!s.should_close());
        assert_eq!(s.next_step().expect("a step").commands().len(), 1);
        assert!(s.should_close());
    }

    #[test]
    fn end_of_input_answers_an_unterminated_line() {
        let mut s = Session::new(Level::User, Duration::from_secs(10));
        s.receive(b"show cli level");
        s.end_of_input();
        assert_eq!(run(&mut s, ""), ["user\n\n"]);
        assert!(s.should_close());
    }
}
