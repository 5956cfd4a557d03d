use super::*;

fn step(n: u32, e: Expect) -> Step {
    Step {
        number: n,
        action: Action::Expect(e),
        comment: None,
    }
}

fn judge(flavor: Flavor, e: Expect, buf: &[u8], closed: bool) -> Verdict {
    let s = step(3, e.clone());
    evaluate(flavor, &s, &e, buf, closed)
}

#[test]
fn string_waits_for_more_until_close_then_fails_with_haproxys_words() {
    let e = Expect::new(false, Matcher::String(b"+PONG".to_vec()));
    assert_eq!(
        judge(Flavor::TcpCheck, e.clone(), b"-ERR", false),
        Verdict::Wait
    );
    assert_eq!(
        judge(Flavor::TcpCheck, e.clone(), b"-ERR loading\r\n", true),
        Verdict::Fail {
            status: CheckStatus::L7Response,
            code: None,
            info: "TCPCHK did not match content '+PONG' at step 3".into()
        }
    );
    assert_eq!(
        judge(Flavor::TcpCheck, e, b"+PONG\r\n", false),
        Verdict::Pass {
            code: None,
            info: "(tcp-check)".into()
        }
    );
}

#[test]
fn min_recv_decides_without_waiting_for_close_and_negation_inverts() {
    let mut e = Expect::new(true, Matcher::Rstring(Re::new("^E").expect("re")));
    e.min_recv = Some(5);
    assert_eq!(
        judge(Flavor::Protocol, e.clone(), b"R", false),
        Verdict::Wait
    );
    assert!(matches!(
        judge(Flavor::Protocol, e.clone(), b"R\0\0\0\x08", false),
        Verdict::Pass { .. }
    ));
    assert!(matches!(
        judge(Flavor::TcpCheck, e, b"E\0\0\0\x08SFATAL", false),
        Verdict::Fail { info, .. } if info == "TCPCHK matched unwanted content (regex) at step 3"
    ));
}

#[test]
fn rbinary_matches_the_hex_dump_and_payload_messages_cut_lines() {
    let e = Expect::new(
        false,
        Matcher::Rbinary(Re::new("^52000000(08|0A|0C)").expect("re")),
    );
    assert!(matches!(
        judge(Flavor::Protocol, e, b"R\0\0\0\x08\0\0\0\0", false),
        Verdict::Pass { .. }
    ));
    let mut e = Expect::new(
        false,
        Matcher::Rstring(Re::new("^2[0-9]{2}[ \r]").expect("re")),
    );
    e.error_status = CheckStatus::L7Status;
    e.code_from_payload = true;
    e.min_recv = Some(4);
    e.on_error = Some(Message::Payload {
        from: 4,
        ltrim: true,
        cut_crlf: true,
    });
    assert_eq!(
        judge(Flavor::Protocol, e, b"554  no service\r\nmore", false),
        Verdict::Fail {
            status: CheckStatus::L7Status,
            code: Some(554),
            info: "no service".into()
        }
    );
}

#[test]
fn where_info_names_the_step_as_haproxy() {
    let e = Expect::new(false, Matcher::String(b"+PONG".to_vec()));
    assert_eq!(
        where_info(Flavor::TcpCheck, &step(3, e.clone())),
        " at step 3 of tcp-check (expect string '+PONG')"
    );
    assert_eq!(where_info(Flavor::Protocol, &step(3, e)), "");
    let c = Step {
        number: 0,
        action: Action::Connect(Connect {
            implicit: true,
            ..Connect::default()
        }),
        comment: None,
    };
    assert_eq!(
        where_info(Flavor::TcpCheck, &c),
        " at initial connection step of tcp-check"
    );
}

#[test]
fn mysql_packets_and_ldap_bind_responses() {
    let e = Expect::new(false, Matcher::MysqlPacket { after_first: false });
    let mut hs = vec![0x0a];
    hs.extend_from_slice(b"10.11.6-MariaDB\0rest");
    let mut pkt = vec![hs.len() as u8, 0, 0, 0];
    pkt.extend_from_slice(&hs);
    assert_eq!(
        judge(Flavor::Protocol, e.clone(), &pkt[..6], false),
        Verdict::Wait
    );
    assert_eq!(
        judge(Flavor::Protocol, e.clone(), &pkt, false),
        Verdict::Pass {
            code: None,
            info: "10.11.6-MariaDB".into()
        }
    );
    let mut err = vec![0xff, 0x15, 0x04];
    err.extend_from_slice(b"#28000Access denied");
    let mut epkt = vec![err.len() as u8, 0, 0, 2];
    epkt.extend_from_slice(&err);
    assert_eq!(
        judge(Flavor::Protocol, e, &epkt, false),
        Verdict::Fail {
            status: CheckStatus::L7Status,
            code: Some(1045),
            info: "#28000Access denied".into()
        }
    );
    let e = Expect::new(false, Matcher::LdapBindResponse);
    let ok = [
        0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
    ];
    assert!(
        matches!(judge(Flavor::Protocol, e.clone(), &ok, false), Verdict::Pass { info, .. } if info == "Success")
    );
    let mut bad = ok;
    bad[9] = 49;
    assert!(matches!(
        judge(Flavor::Protocol, e, &bad, false),
        Verdict::Fail {
            status: CheckStatus::L7Status,
            code: Some(49),
            ..
        }
    ));
}

#[test]
fn ssl_hello_is_haproxys_bytes() {
    // captured from haproxy 2.6's `option ssl-hello-chk` (time 0x6b1350d0)
    let want = "16030000790100007503006b1350d0484150524f585953534c43484b0a48\
                4150524f585953534c43484b0a00004e0001000200030004000500060007\
                00080009000a000b000c000d000e000f0010001100120013001400150016\
                001700180019001a001b002f003000310032003300340035003600370038\
                0039003a0100";
    let got: String = ssl_hello(0x6b13_50d0)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(got, want);
}

/// HAProxy 2.6 names a regex step by its kind when a timeout or an error stops it there.
#[test]
fn timeouts_name_the_regex_kind_as_haproxy() {
    let re = |p: &str| crate::probe::expect::Re::new(p).expect("regex");
    let s = step(2, Expect::new(false, Matcher::Rstring(re("^\\+PONG"))));
    assert_eq!(
        where_info(Flavor::TcpCheck, &s),
        " at step 2 of tcp-check (expect regex)"
    );
    let s = step(2, Expect::new(false, Matcher::Rbinary(re("^2B"))));
    assert_eq!(
        where_info(Flavor::TcpCheck, &s),
        " at step 2 of tcp-check (expect binary regex)"
    );
}
