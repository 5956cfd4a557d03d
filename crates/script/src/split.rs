//! A script line split into words as keepalived splits it: blanks separate words, single or
//! double quotes group them (the quotes are removed), nothing else is interpreted.

/// Splits a script line into words: whitespace separates, quotes group.
pub fn split_command(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for ch in line.chars() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => cur.push(ch),
            None if ch == '"' || ch == '\'' => {
                quote = Some(ch);
                in_word = true;
            }
            None if ch.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(ch);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        assert_eq!(
            split_command("  a  \"b c\" d'e f'  "),
            vec!["a", "b c", "de f"]
        );
        assert_eq!(split_command(""), Vec::<String>::new());
        assert!(split_command("   ").is_empty());
        assert_eq!(split_command("x ''"), vec!["x", ""]);
        assert_eq!(
            split_command("/bin/check.sh 10.0.0.1 80"),
            vec!["/bin/check.sh", "10.0.0.1", "80"]
        );
        assert_eq!(
            split_command("  /bin/sh -c 'exit 3' "),
            vec!["/bin/sh", "-c", "exit 3"]
        );
    }
}
