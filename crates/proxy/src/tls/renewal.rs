//! A TLS 1.2 handshake resumed from a session ticket gets no new ticket, as from OpenSSL
//! (HAProxy): rustls would seal and send a fresh one on every such resumption, work for both
//! ends (the client stores a new session each time) that OpenSSL servers do not do. rustls
//! has no setting for it, so the ticket sealer (`server_config::Aged`) asks here: the ticket
//! opened last on this thread is remembered by its master secret, and a ticket asked for the
//! same TLS 1.2 master secret is the renewal of that resumption; it is answered with nothing,
//! which rustls sends as an empty NewSessionTicket (RFC 5077 3.3: the client keeps the ticket
//! it has). A ticket is opened and its renewal asked for within one call into rustls on the
//! worker thread, so a thread-local cannot mix two connections; a full handshake has a new
//! master secret and gets its ticket. A ticket opened by a `tls-ticket-keys` key that no longer
//! seals (`ticket_keys`) is renewed under the sealing one, as OpenSSL renews it. TLS 1.3
//! tickets are not touched (OpenSSL sends one after a resumed TLS 1.3 handshake, as rustls
//! does).
//!
//! The session value rustls seals starts with its server name (a flag byte, then a length
//! byte and the name when the flag is 1), the protocol version (2 bytes), the suite (2 bytes)
//! and the master secret (a length byte, then the secret): rustls 0.23's `ServerSessionValue`
//! encoding, which `renewal`'s tests read back from a real handshake.

use std::cell::Cell;

const TLS12: [u8; 2] = [0x03, 0x03];
/// A TLS 1.2 master secret's length.
const SECRET: usize = 48;

thread_local! {
    /// The master secret of the TLS 1.2 ticket opened last on this thread, if not yet renewed.
    static OPENED: Cell<Option<[u8; SECRET]>> = const { Cell::new(None) };
    /// The ticket being opened was sealed by a key that no longer seals.
    static STALE: Cell<bool> = const { Cell::new(false) };
}

/// The master secret of a TLS 1.2 session value, or `None` (another version, or not a
/// session value this module can read).
fn tls12_secret(value: &[u8]) -> Option<[u8; SECRET]> {
    let rest = match *value.first()? {
        0 => value.get(1..)?,
        1 => value.get(2 + usize::from(*value.get(1)?)..)?,
        _ => return None,
    };
    if rest.get(..2)? != TLS12 || usize::from(*rest.get(4)?) != SECRET {
        return None;
    }
    rest.get(5..5 + SECRET)?.try_into().ok()
}

/// The ticket being opened was sealed by a key that no longer seals: renew it.
pub(super) fn stale() {
    STALE.with(|s| s.set(true));
}

/// A ticket was opened into `value` (the session it resumes).
pub(super) fn opened(value: &[u8]) {
    let stale = STALE.with(Cell::take);
    OPENED.with(|o| o.set(if stale { None } else { tls12_secret(value) }));
}

/// Whether a ticket asked for `value` renews the TLS 1.2 session just resumed from a ticket
/// (then none is sent).
pub(super) fn is_renewal(value: &[u8]) -> bool {
    let Some(opened) = OPENED.with(Cell::take) else {
        return false;
    };
    tls12_secret(value) == Some(opened)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(sni: Option<&str>, version: [u8; 2], secret: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        match sni {
            Some(n) => {
                v.push(1);
                v.push(n.len() as u8);
                v.extend_from_slice(n.as_bytes());
            }
            None => v.push(0),
        }
        v.extend_from_slice(&version);
        v.extend_from_slice(&[0xc0, 0x2c]);
        v.push(secret.len() as u8);
        v.extend_from_slice(secret);
        v.extend_from_slice(&[1, 0, 0]);
        v
    }

    #[test]
    fn reads_the_secret_of_tls12_values_only() {
        let s = [7u8; SECRET];
        assert_eq!(tls12_secret(&value(None, TLS12, &s)), Some(s));
        assert_eq!(tls12_secret(&value(Some("a.test"), TLS12, &s)), Some(s));
        assert_eq!(tls12_secret(&value(None, [3, 4], &s)), None);
        assert_eq!(tls12_secret(&value(None, TLS12, &s[..32])), None);
        assert_eq!(tls12_secret(&[]), None);
        assert_eq!(tls12_secret(&[2, 3, 3]), None);
        assert_eq!(tls12_secret(&value(None, TLS12, &s)[..20]), None);
    }

    #[test]
    fn only_the_session_just_opened_is_a_renewal_and_only_once() {
        let (a, b) = ([1u8; SECRET], [2u8; SECRET]);
        assert!(!is_renewal(&value(None, TLS12, &a)), "nothing opened");
        opened(&value(Some("x"), TLS12, &a));
        assert!(!is_renewal(&value(None, TLS12, &b)), "another session");
        opened(&value(None, TLS12, &a));
        assert!(is_renewal(&value(Some("x"), TLS12, &a)));
        assert!(!is_renewal(&value(None, TLS12, &a)), "asked once");
        opened(&value(None, [3, 4], &a));
        assert!(!is_renewal(&value(None, [3, 4], &a)), "TLS 1.3");
        stale();
        opened(&value(None, TLS12, &a));
        assert!(!is_renewal(&value(None, TLS12, &a)), "opened by an old key");
        opened(&value(None, TLS12, &a));
        assert!(is_renewal(&value(None, TLS12, &a)), "stale said once");
    }

    /// Accepts any server certificate (the test checks what is sealed, not the chain).
    #[derive(Debug)]
    struct AnyCert;

    impl rustls::client::danger::ServerCertVerifier for AnyCert {
        fn verify_server_cert(
            &self,
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &[rustls::pki_types::CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            rustls::crypto::aws_lc_rs::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }

    /// Seals nothing: keeps what rustls asks it to seal, and the master secrets rustls logs.
    #[derive(Debug, Default)]
    struct Recorder {
        sealed: std::sync::Mutex<Vec<Vec<u8>>>,
        secrets: std::sync::Mutex<Vec<Vec<u8>>>,
    }

    #[derive(Debug)]
    struct Sealer(std::sync::Arc<Recorder>);

    impl rustls::server::ProducesTickets for Sealer {
        fn enabled(&self) -> bool {
            true
        }
        fn lifetime(&self) -> u32 {
            300
        }
        fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
            self.0.sealed.lock().ok()?.push(plain.to_vec());
            Some(b"ticket".to_vec())
        }
        fn decrypt(&self, _: &[u8]) -> Option<Vec<u8>> {
            None
        }
    }

    #[derive(Debug)]
    struct Keys(std::sync::Arc<Recorder>);

    impl rustls::KeyLog for Keys {
        fn will_log(&self, _: &str) -> bool {
            true
        }
        fn log(&self, label: &str, _: &[u8], secret: &[u8]) {
            if label == "CLIENT_RANDOM" {
                if let Ok(mut s) = self.0.secrets.lock() {
                    s.push(secret.to_vec());
                }
            }
        }
    }

    /// A TLS 1.2 handshake in memory (rustls on both ends, the server with `name` as SNI):
    /// what the server sealed, and its master secret.
    fn sealed_by_rustls(name: &str) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        use std::sync::Arc;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let pem = include_bytes!("testdata/one.pem");
        let (chain, key) = super::super::certs::parse_pem(pem, "one.pem").expect("pem");
        let rec = Arc::new(Recorder::default());
        let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(chain, key.expect("key"))
            .expect("server config");
        server.ticketer = Arc::new(Sealer(rec.clone()));
        server.key_log = Arc::new(Keys(rec.clone()));
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .expect("versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert))
            .with_no_client_auth();
        let sni = rustls::pki_types::ServerName::try_from(name.to_string()).expect("name");
        let mut c = rustls::ClientConnection::new(Arc::new(client), sni).expect("client");
        let mut s = rustls::ServerConnection::new(Arc::new(server)).expect("server");
        for _ in 0..10 {
            let mut wire = Vec::new();
            c.write_tls(&mut wire).expect("client writes");
            s.read_tls(&mut &wire[..]).expect("server reads");
            s.process_new_packets().expect("server");
            wire.clear();
            s.write_tls(&mut wire).expect("server writes");
            c.read_tls(&mut &wire[..]).expect("client reads");
            c.process_new_packets().expect("client");
            if !c.is_handshaking() && !s.is_handshaking() {
                break;
            }
        }
        assert!(!s.is_handshaking(), "the handshake did not finish");
        let sealed = rec.sealed.lock().expect("sealed").clone();
        let secrets = rec.secrets.lock().expect("secrets").clone();
        (sealed, secrets)
    }

    #[test]
    fn rustls_seals_tls12_sessions_as_this_module_reads_them() {
        for name in ["one.test", "a-longer-name.example.test"] {
            let (sealed, secrets) = sealed_by_rustls(name);
            assert_eq!((sealed.len(), secrets.len()), (1, 1), "{name}");
            assert_eq!(
                tls12_secret(&sealed[0]).map(|s| s.to_vec()),
                Some(secrets[0].clone()),
                "{name}"
            );
        }
    }
}
