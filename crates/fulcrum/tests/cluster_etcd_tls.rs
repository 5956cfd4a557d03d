//! The cluster section's etcd TLS and authentication options against a real etcd that demands
//! both: a client certificate signed by its CA (`--client-cert-auth`) and a user whose role may
//! only touch /fulcrum/. A node with the right files and password takes its VIP; one with a
//! wrong password gets nothing and says why in `fulcrum status`.
#![allow(clippy::unwrap_used)]

use fulcrum_testlab::netns::{self, Lab};
use fulcrum_testlab::process::Child;
use fulcrum_testlab::{etcd, wait};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn openssl(dir: &Path, args: &[&str]) {
    let ok = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

/// A CA, a server certificate for `ip`, a client certificate; PEM files in `dir`.
fn pki(dir: &Path, ip: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=lab-ca",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    for (name, cn, ext) in [
        ("server", "etcd", format!("subjectAltName=IP:{ip},IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n")),
        ("client", "fulcrum", "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n".to_string()),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        openssl(dir, &["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", &format!("{name}.key"), "-out", &format!("{name}.csr"), "-subj", &format!("/CN={cn}")]);
        openssl(dir, &["x509", "-req", "-in", &format!("{name}.csr"), "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", &format!("{name}.pem"), "-days", "2", "-extfile", &format!("{name}.ext")]);
    }
}

#[test]
fn etcd_with_client_certificates_and_a_password() {
    let test = "cluster-etcd-tls";
    if !netns::available(test) || !etcd::available(test) {
        return;
    }
    let lab = Lab::new(1).unwrap();
    let node = lab.node(0).clone();
    let dir = std::env::temp_dir().join(format!("{}-{test}", lab.hub));
    std::fs::create_dir_all(&dir).unwrap();
    let ip = node.addr.to_string();
    pki(&dir, &ip);
    let p = |f: &str| dir.join(f).display().to_string();
    let url = format!("https://{ip}:2379");
    let mut cmd = node.command("etcd");
    cmd.args([
        "--name",
        "e1",
        "--data-dir",
        &p("data"),
        "--listen-client-urls",
        &url,
        "--advertise-client-urls",
        &url,
    ])
    .args([
        "--listen-peer-urls",
        "http://127.0.0.1:2380",
        "--initial-advertise-peer-urls",
        "http://127.0.0.1:2380",
        "--initial-cluster",
        "e1=http://127.0.0.1:2380",
    ])
    .args([
        "--cert-file",
        &p("server.pem"),
        "--key-file",
        &p("server.key"),
        "--trusted-ca-file",
        &p("ca.pem"),
        "--client-cert-auth",
    ])
    .args([
        "--heartbeat-interval",
        "50",
        "--election-timeout",
        "500",
        "--log-level",
        "warn",
    ]);
    let _etcd = Child::spawn("etcd", cmd, dir.join("etcd.log")).unwrap();
    let ctl = |args: &[&str]| -> bool {
        node.command("etcdctl")
            .env("ETCDCTL_API", "3")
            .args([
                "--endpoints",
                &url,
                "--cacert",
                &p("ca.pem"),
                "--cert",
                &p("server.pem"),
                "--key",
                &p("server.key"),
                "--dial-timeout",
                "1s",
            ])
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    assert!(
        wait::until(Duration::from_secs(20), || ctl(&["put", "/lab", "up"])).is_some(),
        "etcd with TLS never answered"
    );
    for args in [
        &["user", "add", "root:rootpw"][..],
        &["user", "add", "fulcrum:s3cret"],
        &["role", "add", "fulcrum"],
        &[
            "role",
            "grant-permission",
            "fulcrum",
            "--prefix=true",
            "readwrite",
            "/fulcrum/",
        ],
        &["user", "grant-role", "fulcrum", "fulcrum"],
        &["auth", "enable"],
    ] {
        assert!(ctl(args), "etcdctl {args:?}");
    }
    let _ = node.run(
        "sh",
        &["-c", "echo 1 > /proc/sys/net/ipv4/ip_nonlocal_bind"],
    );
    let run = |password: &str, tag: &str| -> Child {
        let cfg = format!(
            "cluster tls\n    node n1\n    etcd {url}\n    etcd-ca-file {}\n    etcd-cert {}\n    etcd-key {}\n    etcd-user fulcrum\n    etcd-password {password}\n    colocation none\n    vip v1 10.99.1.1/16 dev eth0\n",
            p("ca.pem"), p("client.pem"), p("client.key")
        );
        let file = dir.join(format!("{tag}.cfg"));
        std::fs::write(&file, cfg).unwrap();
        let mut cmd = node.command(env!("CARGO_BIN_EXE_fulcrum"));
        cmd.args(["run", "--control"])
            .arg(dir.join(format!("{tag}.sock")))
            .arg("-f")
            .arg(&file);
        Child::spawn(tag, cmd, dir.join(format!("{tag}.log"))).unwrap()
    };
    let status = |tag: &str| -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_fulcrum"))
            .args(["status", "--json", "--control"])
            .arg(dir.join(format!("{tag}.sock")))
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    };

    // A wrong password: no quorum, nothing taken, the reason in the failed actions.
    let bad = run("wrong", "bad");
    let said = wait::until(Duration::from_secs(20), || {
        status("bad")["cluster"]["failed_actions"]
            .to_string()
            .contains("authentication failed")
    });
    assert!(said.is_some(), "{}\n{}", status("bad"), bad.output());
    assert!(!node.has_address("10.99.1.1"));
    assert_eq!(status("bad")["cluster"]["quorum"], false);
    drop(bad);

    // The right one: the VIP is taken, over TLS with the client certificate.
    let good = run("s3cret", "good");
    let took = wait::until(Duration::from_secs(20), || node.has_address("10.99.1.1"));
    assert!(took.is_some(), "{}\n{}", status("good"), good.output());
    assert!(
        wait::until(Duration::from_secs(10), || status("good")["cluster"]
            ["vips"][0]["holder"]
            == "n1")
        .is_some(),
        "{}",
        status("good")
    );
    drop(good);
    let _ = std::fs::remove_dir_all(&dir);
}
