//! The environment `env(NAME)` reads: the process's, seen through the configuration's
//! `setenv` / `presetenv` / `resetenv` / `unsetenv` (HAProxy changes its own environment;
//! fulcrum keeps the process's untouched and installs this view when a configuration is
//! built, so a reload with other `setenv` lines changes what `env()` reads).

use std::sync::{Arc, RwLock};

/// A lookup of one variable.
pub type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

static VIEW: RwLock<Option<Lookup>> = RwLock::new(None);

/// Installs the view (`None`: the process environment as it is).
pub fn install(view: Option<Lookup>) {
    if let Ok(mut v) = VIEW.write() {
        *v = view;
    }
}

/// Variable `name` as the configuration sees it.
pub fn var(name: &str) -> Option<String> {
    let view = VIEW.read().ok().and_then(|v| v.clone());
    match view {
        Some(f) => f(name),
        None => std::env::var(name).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_replaces_the_process_environment() {
        assert!(var("PATH").is_some());
        install(Some(Arc::new(|n: &str| {
            (n == "X").then(|| "1".to_string())
        })));
        assert_eq!(var("X").as_deref(), Some("1"));
        assert_eq!(var("PATH"), None);
        install(None);
        assert!(var("PATH").is_some());
    }
}
