//! Unit tests of the certificate registry: HAProxy 2.6's answers to the `ssl cert` commands.

use super::*;

/// Self-signed P-256 test certificates (`openssl req -x509`), with their keys.
const ONE: &str = include_str!("../testdata/one.pem");
const TWO: &str = include_str!("../testdata/two.pem");

fn pem(text: &str) -> (String, Arc<CertifiedKey>) {
    let (chain, k) = certs::parse_pem(text.as_bytes(), "test").expect("parse");
    let ck = certs::certified(chain, &k.expect("key"), "test").expect("certified");
    (text.to_string(), Arc::new(ck))
}

fn subject(slot: &Slot) -> String {
    let k = slot.current().expect("a certificate");
    der::dn_text(der::fields(&k.cert[0]).expect("fields").subject)
}

#[test]
fn a_transaction_as_haproxy_2_6() {
    let mut r = Registry::default();
    let (_, one) = pem(ONE);
    let (two, _) = pem(TWO);
    // What one bind line holds.
    let bind_holds = SlotUse::new(r.install("/c/one.pem", one));
    // A file loaded by a config no bind uses any more (a reload dropped it): gone.
    r.install("/c/old.pem", pem(TWO).1);
    assert_eq!(r.run(&SslCommand::Show(None)), "# filename\n/c/one.pem\n");
    assert_eq!(
        r.run(&SslCommand::Set("/c/old.pem".into(), TWO.into())),
        "Can't replace a certificate which is not referenced by the configuration!\nCan't update /c/old.pem!\n"
    );
    assert_eq!(
        r.run(&SslCommand::Commit("/c/one.pem".into())),
        "No ongoing transaction! !\nCan't commit /c/one.pem!\n"
    );
    assert_eq!(
        r.run(&SslCommand::Set("/c/nope.pem".into(), two.clone())),
        "Can't replace a certificate which is not referenced by the configuration!\nCan't update /c/nope.pem!\n"
    );
    assert_eq!(
        r.run(&SslCommand::Set("/c/one.pem".into(), "garbage\n".into())),
        "unable to load certificate from file '/c/one.pem'.\nCan't load the payload\nCan't update /c/one.pem!\n"
    );
    assert_eq!(
        r.run(&SslCommand::Set("/c/one.pem".into(), two.clone())),
        "Transaction created for certificate /c/one.pem!\n"
    );
    assert_eq!(
        r.run(&SslCommand::Set("/c/one.pem".into(), two.clone())),
        "Transaction updated for certificate /c/one.pem!\n"
    );
    assert_eq!(
        r.run(&SslCommand::Show(None)),
        "# transaction\n*/c/one.pem\n# filename\n/c/one.pem\n"
    );
    let shown = r.run(&SslCommand::Show(Some("*/c/one.pem".into())));
    assert!(
        shown.starts_with("Filename: */c/one.pem\nStatus: Unused\nSerial: "),
        "{shown}"
    );
    assert!(shown.contains("\nSubject: /CN=two.test\n"), "{shown}");
    assert!(shown.contains("\nAlgorithm: EC256\n"), "{shown}");
    assert_eq!(subject(&bind_holds.0), "/CN=one.test", "not before commit");
    assert_eq!(
        r.run(&SslCommand::Commit("/c/one.pem".into())),
        "Committing /c/one.pem.\nSuccess!\n"
    );
    assert_eq!(subject(&bind_holds.0), "/CN=two.test", "served at once");
    let shown = r.run(&SslCommand::Show(Some("/c/one.pem".into())));
    assert!(shown.starts_with("Filename: /c/one.pem\nStatus: Used\n"));
    assert!(shown.ends_with("\nOCSP Response Key: \n"));
}

#[test]
fn new_abort_and_errors_as_haproxy_2_6() {
    let mut r = Registry::default();
    let (two, _) = pem(TWO);
    assert_eq!(
        r.run(&SslCommand::New(String::new())),
        "'new ssl cert' expects a filename\n"
    );
    assert_eq!(
        r.run(&SslCommand::New("/n.pem".into())),
        "New empty certificate store '/n.pem'!\n"
    );
    assert_eq!(
        r.run(&SslCommand::New("/n.pem".into())),
        "Certificate '/n.pem' already exists!\n"
    );
    assert_eq!(
        r.run(&SslCommand::Show(Some("/n.pem".into()))),
        "Filename: /n.pem\nStatus: Empty\nOCSP Response Key: \n"
    );
    assert_eq!(
        r.run(&SslCommand::Show(Some("/x.pem".into()))),
        "Can't display the certificate: Not found or the certificate is a bundle!\n"
    );
    assert_eq!(
        r.run(&SslCommand::Abort("/n.pem".into())),
        "No ongoing transaction!\n"
    );
    let cert_only = two
        .split_inclusive('\n')
        .take_while(|l| !l.contains("PRIVATE KEY"))
        .collect::<String>();
    assert_eq!(
        r.run(&SslCommand::Set("/n.pem".into(), cert_only)),
        "Transaction created for certificate /n.pem!\n"
    );
    assert_eq!(
        r.run(&SslCommand::Commit("/n.pem".into())),
        "The transaction must contain at least a certificate and a private key!\nCan't commit /n.pem!\n"
    );
    assert_eq!(
        r.run(&SslCommand::Abort("/o.pem".into())),
        "The ongoing transaction is about '/n.pem' but you are trying to abort a transaction for '/o.pem'\n"
    );
    assert_eq!(
        r.run(&SslCommand::Abort("/n.pem".into())),
        "Transaction aborted for certificate '/n.pem'!\n"
    );
    assert_eq!(
        r.run(&SslCommand::Set("/n.pem".into(), two)),
        "Transaction created for certificate /n.pem!\n"
    );
    assert_eq!(
        r.run(&SslCommand::Commit("/n.pem".into())),
        "Committing /n.pem\nSuccess!\n",
        "no bind uses it: no dot"
    );
    assert_eq!(
        r.run(&SslCommand::Commit(String::new())),
        "'commit ssl cert expects a filename\n"
    );
    assert_eq!(
        r.run(&SslCommand::Abort(String::new())),
        "'abort ssl cert' expects a filename\n"
    );
    assert_eq!(
        r.run(&SslCommand::Set("/n.pem".into(), String::new())),
        "'set ssl cert expects a filename and a certificate as a payload\n"
    );
}

#[test]
fn del_as_haproxy_2_6() {
    let mut r = Registry::default();
    let (two, one) = pem(TWO);
    let held = SlotUse::new(r.install("/c/one.pem", one));
    assert_eq!(
        r.run(&SslCommand::Del(String::new())),
        "'del ssl cert' expects a certificate name\n"
    );
    assert_eq!(
        r.run(&SslCommand::Del("/c/one.pem".into())),
        "Can't remove the certificate: certificate '/c/one.pem' in use, can't be deleted!\n\n"
    );
    assert_eq!(
        r.run(&SslCommand::Del("/x.pem".into())),
        "Can't remove the certificate: certificate '/x.pem' doesn't exist!\n\n"
    );
    r.run(&SslCommand::New("/n.pem".into()));
    r.run(&SslCommand::Set("/n.pem".into(), two));
    assert_eq!(
        r.run(&SslCommand::Del("/n.pem".into())),
        "Can't remove the certificate: ongoing transaction for the certificate '/n.pem'\n"
    );
    r.run(&SslCommand::Abort("/n.pem".into()));
    assert_eq!(
        r.run(&SslCommand::Del("/n.pem".into())),
        "Certificate '/n.pem' deleted!\n"
    );
    assert_eq!(r.run(&SslCommand::Show(None)), "# filename\n/c/one.pem\n");
    drop(held);
    assert_eq!(
        r.run(&SslCommand::Del("/c/one.pem".into())),
        "Can't remove the certificate: certificate '/c/one.pem' doesn't exist!\n\n",
        "no bind serves it any more: gone, as after a reload"
    );
}
