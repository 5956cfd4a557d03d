//! `userlist NAME` sections: `group NAME [users U1,U2...]` and
//! `user NAME password HASH | insecure-password TEXT [groups G1,G2...]`, checked as HAProxy
//! 2.6 checks them when the section ends (unknown users or groups, duplicates).

use super::line::Line;
use crate::diagnostics::Diagnostics;
use crate::model_userlist::{Password, User, Userlist};

/// A section being read: the `group ... users` memberships are merged when it closes.
#[derive(Debug)]
pub struct Draft {
    pub list: Userlist,
    /// (group, user, line) from `group G users U,...`.
    members: Vec<(String, String, crate::diagnostics::Span)>,
    /// (user, group, line) from `user U ... groups G,...`: checked when the section ends.
    user_groups: Vec<(String, String, crate::diagnostics::Span)>,
}

/// `userlist NAME` opens a section.
pub fn open(line: &Line<'_>, taken: &[Userlist], diags: &mut Diagnostics) -> Option<Draft> {
    let Some(name) = line.arg(1) else {
        diags.error(&line.span, "'userlist' expects a name");
        return None;
    };
    if let Some(first) = taken.iter().find(|u| u.name == name) {
        diags.error(
            &line.span,
            format!("userlist '{name}' is already defined at {}", first.span),
        );
    }
    Some(Draft {
        list: Userlist {
            name: name.to_string(),
            span: line.span.clone(),
            groups: Vec::new(),
            users: Vec::new(),
        },
        members: Vec::new(),
        user_groups: Vec::new(),
    })
}

fn names(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').filter(|s| !s.is_empty())
}

/// Whether `hash` is a crypt(3) hash fulcrum checks: `$1$`, `$5$`, `$6$`, `$2a$`/`$2b$`/
/// `$2y$` or a 13-character traditional DES hash.
pub fn hash_supported(hash: &str) -> bool {
    ["$1$", "$5$", "$6$", "$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| hash.starts_with(p))
        || (hash.len() == 13
            && hash
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/'))
}

pub fn keyword(d: &mut Draft, line: &Line<'_>, diags: &mut Diagnostics) {
    if let Err(e) = keyword_inner(d, line) {
        diags.error(&line.span, e);
    }
}

fn keyword_inner(d: &mut Draft, line: &Line<'_>) -> Result<(), String> {
    match line.keyword() {
        "group" => {
            let name = line.need(1, "a group name")?;
            if d.list.groups.iter().any(|g| g == name) {
                return Err(format!(
                    "userlist '{}': duplicate group '{name}'",
                    d.list.name
                ));
            }
            d.list.groups.push(name.to_string());
            match (line.arg(2), line.arg(3)) {
                (None, _) => {}
                (Some("users"), Some(users)) => {
                    for u in names(users) {
                        d.members
                            .push((name.to_string(), u.to_string(), line.span.clone()));
                    }
                }
                (Some(other), _) => {
                    return Err(format!(
                        "'group {name}': expected 'users U1,U2...', found '{other}'"
                    ))
                }
            }
        }
        "user" => {
            let name = line.need(1, "a user name")?;
            if d.list.users.iter().any(|u| u.name == name) {
                return Err(format!(
                    "userlist '{}': duplicate user '{name}'",
                    d.list.name
                ));
            }
            let mut password = None;
            let mut groups = Vec::new();
            let mut i = 2;
            while let Some(w) = line.arg(i) {
                match w {
                    "password" => {
                        let h = line.need(i + 1, "a crypt(3) password hash")?;
                        if !hash_supported(h) {
                            return Err(format!(
                                "user '{name}': password hash '{h}' is not a crypt(3) hash fulcrum checks ($1$, $5$, $6$, $2b$ or DES)"
                            ));
                        }
                        password = Some(Password::Hashed(h.to_string()));
                    }
                    "insecure-password" => {
                        password = Some(Password::Insecure(
                            line.need(i + 1, "a password")?.to_string(),
                        ))
                    }
                    "groups" => {
                        groups.extend(
                            names(line.need(i + 1, "group names G1,G2...")?).map(String::from),
                        );
                    }
                    other => {
                        return Err(format!(
                            "'user {name}': unexpected '{other}' (expected password, insecure-password or groups)"
                        ))
                    }
                }
                i += 2;
            }
            let password = password.ok_or_else(|| {
                format!("user '{name}' needs 'password HASH' or 'insecure-password TEXT'")
            })?;
            for g in &groups {
                d.user_groups
                    .push((name.to_string(), g.clone(), line.span.clone()));
            }
            d.list.users.push(User {
                name: name.to_string(),
                password,
                groups,
            });
        }
        other => {
            return Err(format!(
                "unknown keyword '{other}' in userlist '{}' (expected group or user)",
                d.list.name
            ))
        }
    }
    Ok(())
}

/// Ends a section: `group ... users` memberships join the users' own groups.
pub fn close(mut d: Draft, diags: &mut Diagnostics) -> Userlist {
    for (user, group, span) in &d.user_groups {
        if !d.list.groups.contains(group) {
            diags.error(
                span,
                format!(
                    "userlist '{}': user '{user}' names unknown group '{group}'",
                    d.list.name
                ),
            );
        }
    }
    for (group, user, span) in d.members {
        match d.list.users.iter_mut().find(|u| u.name == user) {
            Some(u) => {
                if !u.groups.contains(&group) {
                    u.groups.push(group);
                }
            }
            None => diags.error(
                &span,
                format!(
                    "userlist '{}': group '{group}' names unknown user '{user}'",
                    d.list.name
                ),
            ),
        }
    }
    d.list
}
