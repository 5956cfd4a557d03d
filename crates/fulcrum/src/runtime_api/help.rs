//! The runtime API's help: HAProxy's own help lines for the commands fulcrum runs, `help`,
//! and the answer to an unknown command ("maybe one of the following ones is a better match").
//! Pure.

/// (keyword words, HAProxy's help line) for every command fulcrum answers, in HAProxy's order.
const ENTRIES: &[(&str, &str)] = &[
    ("abort ssl ca-file", "  abort ssl ca-file <cafile>              : abort a transaction for a CA file"),
    ("abort ssl cert", "  abort ssl cert <certfile>               : abort a transaction for a certificate file"),
    ("abort ssl crl-file", "  abort ssl crl-file <crlfile>            : abort a transaction for a CRL file"),
    ("add ssl crt-list", "  add ssl crt-list <list> <cert> [opts]*  : add to crt-list file <list> a line <cert> or a payload"),
    ("commit ssl ca-file", "  commit ssl ca-file <cafile>             : commit a CA file"),
    ("commit ssl cert", "  commit ssl cert <certfile>              : commit a certificate file"),
    ("commit ssl crl-file", "  commit ssl crl-file <crlfile>           : commit a CRL file"),
    ("del ssl ca-file", "  del ssl ca-file <cafile>                : delete an unused CA file"),
    ("del ssl cert", "  del ssl cert <certfile>                 : delete an unused certificate file"),
    ("del ssl crl-file", "  del ssl crl-file <crlfile>              : delete an unused CRL file"),
    ("del ssl crt-list", "  del ssl crt-list <list> <cert[:line]>   : delete a line <cert> from crt-list file <list>"),
    ("disable health", "  disable health                          : disable health checks"),
    ("disable server", "  disable server (DEPRECATED)             : disable a server for maintenance (use 'set server' instead)"),
    ("enable health", "  enable health                           : enable health checks"),
    ("enable server", "  enable server  (DEPRECATED)             : enable a disabled server (use 'set server' instead)"),
    ("get weight", "  get weight <bk>/<srv>                   : report a server's current weight"),
    ("new ssl ca-file", "  new ssl ca-file <cafile>                : create a new CA file to be used in a crt-list"),
    ("new ssl cert", "  new ssl cert <certfile>                 : create a new certificate file to be used in a crt-list or a directory"),
    ("new ssl crl-file", "  new ssl crlfile <crlfile>               : create a new CRL file to be used in a crt-list"),
    ("operator", "  operator                                : lower the level of the current CLI session to operator"),
    ("set server", "  set server <bk>/<srv> [opts]            : change a server's state, weight, address or ssl"),
    ("set ssl ca-file", "  set ssl ca-file <cafile> <payload>      : replace a CA file"),
    ("set ssl cert", "  set ssl cert <certfile> <payload>       : replace a certificate file"),
    ("set ssl crl-file", "  set ssl crl-file <crlfile> <payload>    : replace a CRL file"),
    ("set ssl tls-key", "  set ssl tls-key [id|file] <key>         : set the next TLS key for the <id> or <file> listener to <key>"),
    ("set timeout", "  set timeout [cli] <delay>               : change a timeout setting"),
    ("set weight", "  set weight <bk>/<srv>  (DEPRECATED)     : change a server's weight (use 'set server' instead)"),
    ("show backend", "  show backend                            : list backends in the current running config"),
    ("show cache", "  show cache                              : show cache status"),
    ("show cli level", "  show cli level                          : display the level of the current CLI session"),
    ("show info", "  show info [desc|json|typed|float]*      : report information about the running process"),
    ("show servers state", "  show servers state [<backend>]          : dump volatile server information (all or for a single backend)"),
    ("show sess", "  show sess                               : report a summary of the current sessions"),
    ("show ssl ca-file", "  show ssl ca-file [<cafile>[:<index>]]   : display the SSL CA files used in memory, or the details of a <cafile>, or a single certificate of index <index> of a CA file <cafile>"),
    ("show ssl cert", "  show ssl cert [<certfile>]              : display the SSL certificates used in memory, or the details of a file"),
    ("show ssl crl-file", "  show ssl crl-file [<crlfile[:<index>>]] : display the SSL CRL files used in memory, or the details of a <crlfile>, or a single CRL of index <index> of CRL file <crlfile>"),
    ("show ssl crt-list", "  show ssl crt-list [-n] [<list>]         : show the list of crt-lists or the content of a crt-list file <list>"),
    ("show stat", "  show stat [desc|json|no-maint|typed|up]*: report counters for each proxy and server"),
    ("show tls-keys", "  show tls-keys [id|*]                    : show tls keys references or dump tls ticket keys when id specified"),
    ("user", "  user                                    : lower the level of the current CLI session to user"),
];

/// Always listed last, as HAProxy does.
const TAIL: &[&str] = &[
    "  help [<command>]                        : list matching or all commands",
    "  prompt                                  : toggle interactive mode with prompt",
    "  quit                                    : disconnect",
];

fn listing(header: &str, lines: &[&str]) -> String {
    let mut out = String::from(header);
    out.push('\n');
    for l in lines.iter().chain(TAIL) {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// `help [WORD...]`: the entries starting with the words given, or all of them.
pub fn help(words: &[&str]) -> String {
    let all: Vec<&str> = ENTRIES.iter().map(|(_, l)| *l).collect();
    let matching = matching(words);
    let lines = if words.is_empty() || matching.is_empty() {
        all
    } else {
        matching
    };
    listing("The following commands are valid at this level:", &lines)
}

/// Entries whose keywords start with `words` (as far as both go), else those sharing the first
/// word.
fn matching(words: &[&str]) -> Vec<&'static str> {
    let prefix = |n: usize| {
        ENTRIES
            .iter()
            .filter(|(kw, _)| {
                kw.split(' ')
                    .zip(words.iter().take(n))
                    .all(|(a, b)| a == *b)
                    && !words.is_empty()
            })
            .map(|(_, l)| *l)
            .collect::<Vec<_>>()
    };
    let full = prefix(words.len());
    if !full.is_empty() {
        return full;
    }
    prefix(1)
}

/// HAProxy's answer to a command it does not know.
pub fn unknown_command(words: &[&str]) -> String {
    let suggestions = matching(words);
    if suggestions.is_empty() {
        let all: Vec<&str> = ENTRIES.iter().map(|(_, l)| *l).collect();
        listing(
            "Unknown command. Please enter one of the following commands only:",
            &all,
        )
    } else {
        listing(
            "Unknown command, but maybe one of the following ones is a better match:",
            &suggestions,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_command_then_help_prompt_quit() {
        let h = help(&[]);
        assert!(h.starts_with("The following commands are valid at this level:\n"));
        assert!(h.contains(
            "  get weight <bk>/<srv>                   : report a server's current weight\n"
        ));
        assert!(h.ends_with("  quit                                    : disconnect\n"));
    }

    #[test]
    fn unknown_commands_get_suggestions_by_first_word() {
        let u = unknown_command(&["show", "foo"]);
        assert!(u.starts_with(
            "Unknown command, but maybe one of the following ones is a better match:\n"
        ));
        assert!(u.contains("show info") && u.contains("show stat") && !u.contains("get weight"));
        let u = unknown_command(&["frobnicate"]);
        assert!(
            u.starts_with("Unknown command. Please enter one of the following commands only:\n")
        );
        let u = unknown_command(&[]);
        assert!(
            u.starts_with("Unknown command. Please enter one of the following commands only:\n")
        );
    }
}
