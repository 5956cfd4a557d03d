use super::*;

const CA: &str = include_str!("../testdata/ca.pem");
const CRL: &str = include_str!("../testdata/crl.pem");

fn cmd(kind: Kind, c: FileCommand) -> String {
    run(kind, &c)
}

#[test]
fn a_ca_file_is_created_set_committed_and_deleted_with_haproxys_answers() {
    let n = "/cafiles-test/a.pem";
    assert_eq!(
        cmd(Kind::Ca, FileCommand::Set("/cafiles-test/none".into(), Some(CA.into()))),
        "Can't replace a CA file which is not referenced by the configuration!\nCan't update /cafiles-test/none!\n"
    );
    assert_eq!(
        cmd(Kind::Ca, FileCommand::New(n.into())),
        format!("New CA file created '{n}'!\n")
    );
    assert_eq!(
        cmd(Kind::Ca, FileCommand::New(n.into())),
        format!("CA file '{n}' already exists!\n")
    );
    assert!(cmd(Kind::Ca, FileCommand::Show(None)).contains(&format!("\n{n} - 0 certificate(s)\n")));
    assert_eq!(
        cmd(Kind::Ca, FileCommand::Show(Some(n.into()))),
        "",
        "empty: nothing shown"
    );
    assert_eq!(
        cmd(Kind::Ca, FileCommand::Set(n.into(), Some("junk\n".into()))),
        format!("Invalid payload\nCan't update {n}!\n")
    );
    assert_eq!(
        cmd(Kind::Ca, FileCommand::Set(n.into(), Some(CA.into()))),
        format!("transaction created for CA {n}!\n")
    );
    assert_eq!(
        cmd(Kind::Ca, FileCommand::Set(n.into(), Some(CA.into()))),
        format!("transaction updated for CA {n}!\n")
    );
    let list = cmd(Kind::Ca, FileCommand::Show(None));
    assert!(list.starts_with(&format!(
        "# transaction\n*{n} - 1 certificate(s)\n# filename\n"
    )));
    let star = cmd(Kind::Ca, FileCommand::Show(Some(format!("*{n}"))));
    assert!(star.starts_with(&format!(
        "Filename: *{n}\nStatus: Unused\n \nCertificate #1:\nSerial: "
    )));
    assert!(star.contains("Subject: /CN=Test CA\nIssuer: /CN=Test CA\n"));
    assert_eq!(
        cmd(Kind::Ca, FileCommand::Commit("/other".into())),
        format!("The ongoing transaction is about '{n}' but you are trying to set '/other'\nCan't commit /other!\n")
    );
    let g = generation();
    assert_eq!(
        cmd(Kind::Ca, FileCommand::Commit(n.into())),
        format!("Committing {n}\nSuccess!\n")
    );
    assert!(generation() > g);
    assert_eq!(
        cmd(Kind::Ca, FileCommand::Show(Some(format!("{n}:2")))),
        "",
        "an index past the end shows nothing"
    );
    assert_eq!(
        cmd(Kind::Ca, FileCommand::Show(Some(format!("{n}:0")))),
        format!("wrong CA index after colons in '{n}:0'!")
    );
    // a use: listed as used, and not deleted
    let (items, usage) = load(n, Kind::Ca, false).expect("the committed file");
    assert_eq!(items.len(), 1);
    assert!(roots(&items, n).is_ok());
    assert!(cmd(Kind::Ca, FileCommand::Show(Some(format!("{n}:1")))).contains("Status: Used\n"));
    assert_eq!(
        cmd(Kind::Ca, FileCommand::Del(n.into())),
        format!("Can't remove the CA file: CA file '{n}' in use, can't be deleted!\n\n")
    );
    drop(usage);
    assert_eq!(
        cmd(Kind::Ca, FileCommand::Del(n.into())),
        format!("CA file '{n}' deleted!\n")
    );
    assert_eq!(
        cmd(Kind::Ca, FileCommand::Del(n.into())),
        format!("Can't remove the CA file: CA file '{n}' doesn't exist!\n\n")
    );
}

#[test]
fn crl_files_show_their_revoked_serials() {
    let n = "/cafiles-test/b.crl";
    assert_eq!(
        cmd(Kind::Crl, FileCommand::New(n.into())),
        format!("New CRL file created '{n}'!\n")
    );
    assert_eq!(
        cmd(Kind::Crl, FileCommand::Set(n.into(), Some("junk\n".into()))),
        format!("Invalid payload\nCan't update {n}!\n")
    );
    assert_eq!(
        cmd(Kind::Crl, FileCommand::Set(n.into(), Some(CRL.into()))),
        format!("transaction created for CRL {n}!\n")
    );
    assert!(cmd(Kind::Crl, FileCommand::Show(None))
        .starts_with(&format!("# transaction\n*{n}\n# filename\n")));
    assert_eq!(
        cmd(Kind::Crl, FileCommand::Abort("/x".into())),
        format!("The ongoing transaction is about '{n}' but you are trying to abort a transaction for '/x'\n")
    );
    assert_eq!(
        cmd(Kind::Crl, FileCommand::Commit(n.into())),
        format!("Committing {n}\nSuccess!\n")
    );
    let shown = cmd(Kind::Crl, FileCommand::Show(Some(n.into())));
    assert_eq!(
        shown,
        format!(
            "Filename: {n}\nStatus: Unused\n \nCertificate Revocation List #1:\nVersion 2\n\
             Signature Algorithm: ecdsa-with-SHA256\nIssuer: /CN=Test CA\n\
             Last Update: Dec  5 15:02:16 2026 GMT\nNext Update: Nov 11 15:02:16 2126 GMT\n\
             Revoked Certificates:\n    Serial Number: 80AB\n        Revocation Date: Dec  5 15:02:16 2026 GMT\n"
        )
    );
    assert_eq!(
        crls(&load(n, Kind::Crl, false).expect("committed").0).len(),
        1
    );
    assert_eq!(
        cmd(Kind::Ca, FileCommand::Show(Some(n.into()))),
        "Can't display the CA file : Not found!\n",
        "a CRL file is not a CA file"
    );
    assert_eq!(
        cmd(Kind::Crl, FileCommand::Abort(n.into())),
        "No ongoing transaction!\n"
    );
}

#[test]
fn commands_without_a_name_say_what_they_expect() {
    assert_eq!(
        cmd(Kind::Ca, FileCommand::Set(String::new(), None)),
        "'set ssl ca-file expects a filename and CAs as a payload\n"
    );
    assert_eq!(
        cmd(Kind::Crl, FileCommand::New(String::new())),
        "'new ssl crl-file' expects a filename\n"
    );
    assert_eq!(
        cmd(Kind::Crl, FileCommand::Commit(String::new())),
        "'commit ssl ca-file expects a filename\n"
    );
    assert_eq!(
        cmd(Kind::Ca, FileCommand::Del(String::new())),
        "'del ssl ca-file' expects a CA file name\n"
    );
}
