//! Unit tests of `expect`.
use super::*;
use fulcrum_config::diagnostics::Span;

fn resp(status: u16, reason: &str, body: &str) -> CheckResponse {
    CheckResponse {
        status,
        reason: reason.into(),
        headers: vec![
            ("X-Ok".into(), "yes".into()),
            ("X-List".into(), "a, b,c".into()),
        ],
        body: body.as_bytes().to_vec(),
    }
}
fn model(negate: bool, kind: ExpectKind, pattern: &str) -> HttpCheckExpect {
    HttpCheckExpect {
        span: Span::default(),
        negate,
        kind,
        pattern: pattern.into(),
        header: None,
        options: Default::default(),
    }
}
fn eval(e: Option<HttpCheckExpect>, r: &CheckResponse) -> CheckOutcome {
    Expect::from_model(e.as_ref())
        .expect("valid")
        .evaluate(r, Duration::ZERO)
}

#[test]
fn default_accepts_2xx_3xx_only() {
    assert!(eval(None, &resp(200, "OK", "")).passed());
    assert!(eval(None, &resp(302, "Found", "")).passed());
    let o = eval(None, &resp(500, "Internal Server Error", ""));
    assert_eq!(o.to_string(), "reason: Layer7 wrong status, code: 500, info: \"Internal Server Error\", check duration: 0ms");
    assert!(!eval(None, &resp(404, "Not Found", "")).passed());
}

#[test]
fn status_and_negation() {
    assert!(eval(
        Some(model(false, ExpectKind::Status, "200")),
        &resp(200, "OK", "")
    )
    .passed());
    assert!(!eval(
        Some(model(false, ExpectKind::Status, "200")),
        &resp(204, "", "")
    )
    .passed());
    assert!(eval(
        Some(model(false, ExpectKind::Status, "200,300-399")),
        &resp(302, "", "")
    )
    .passed());
    assert!(!eval(
        Some(model(true, ExpectKind::Status, "500-599")),
        &resp(503, "", "")
    )
    .passed());
    assert!(eval(
        Some(model(true, ExpectKind::Status, "500-599")),
        &resp(404, "", "")
    )
    .passed());
    assert!(Expect::from_model(Some(&model(false, ExpectKind::Status, "abc"))).is_err());
}

#[test]
fn rstatus_as_in_seed_003() {
    let e = Some(model(false, ExpectKind::Rstatus, "200"));
    assert!(eval(e.clone(), &resp(200, "OK", "")).passed());
    let o = eval(e, &resp(500, "Internal Server Error", ""));
    assert_eq!(o.status, CheckStatus::L7Status);
    assert_eq!(o.code, Some(500));
    assert!(!eval(
        Some(model(false, ExpectKind::Rstatus, "^3")),
        &resp(200, "OK", "")
    )
    .passed());
}

#[test]
fn hdr_splits_values_fhdr_does_not_names_ignore_case() {
    use fulcrum_config::model::HeaderMatch;
    let hdr = |kind, negate, name: &str, value: Option<(MatchMethod, &str)>| {
        let mut e = model(negate, kind, "");
        e.header = Some(HeaderMatch {
            name_method: MatchMethod::Str,
            name: name.into(),
            value: value.map(|(m, v)| (m, v.to_string())),
            name_lf: false,
            value_lf: false,
        });
        Some(e)
    };
    let r = resp(200, "OK", "");
    assert!(eval(
        hdr(
            ExpectKind::Hdr,
            false,
            "x-ok",
            Some((MatchMethod::Str, "yes"))
        ),
        &r
    )
    .passed());
    assert!(eval(
        hdr(
            ExpectKind::Hdr,
            false,
            "X-List",
            Some((MatchMethod::Str, "b"))
        ),
        &r
    )
    .passed());
    let o = eval(
        hdr(
            ExpectKind::Fhdr,
            false,
            "X-List",
            Some((MatchMethod::Str, "b")),
        ),
        &r,
    );
    assert_eq!(
        o.to_string(),
        "reason: Layer7 wrong status, code: 200, info: \"OK\", check duration: 0ms"
    );
    assert!(eval(
        hdr(
            ExpectKind::Fhdr,
            false,
            "X-List",
            Some((MatchMethod::Sub, "b,"))
        ),
        &r
    )
    .passed());
    assert!(eval(hdr(ExpectKind::Hdr, true, "X-Missing", None), &r).passed());
    assert!(!eval(hdr(ExpectKind::Hdr, true, "X-Ok", None), &r).passed());
}

#[test]
fn string_and_rstring() {
    let r = resp(200, "OK", "status: ready\n");
    assert!(eval(Some(model(false, ExpectKind::String, "ready")), &r).passed());
    let o = eval(Some(model(false, ExpectKind::String, "nothere")), &r);
    assert_eq!(o.to_string(), "reason: Layer7 invalid response, info: \"HTTP content check did not match\", check duration: 0ms");
    assert!(!eval(Some(model(true, ExpectKind::String, "ready")), &r).passed());
    assert!(eval(
        Some(model(false, ExpectKind::Rstring, "^status: (ready|ok)")),
        &r
    )
    .passed());
    assert!(!eval(Some(model(false, ExpectKind::Rstring, "maint")), &r).passed());
    assert!(eval(Some(model(true, ExpectKind::Rstring, "maint")), &r).passed());
    // content checks do not look at the status
    assert!(eval(
        Some(model(false, ExpectKind::String, "ready")),
        &resp(500, "", "ready")
    )
    .passed());
}
