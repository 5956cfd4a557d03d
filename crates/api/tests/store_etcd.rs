//! The etcd store against a real etcd (Debian's /usr/bin/etcd on loopback ports): one change
//! written in one transaction is read back whole, with the same ids, by a second store (another
//! node); removals are removed; a change by another writer is signalled by the watch, one's
//! own writes are not; after etcd restarts, the watch resumes.

use fulcrum_api::state::{Obj, State};
use fulcrum_api::store::Store;
use fulcrum_api::store_etcd::Etcd;
use fulcrum_testlab::etcd;
use std::time::Duration;

fn obj(id: &str, name: &str) -> Obj {
    let mut o = Obj::new();
    o.insert("id".into(), id.into());
    o.insert("name".into(), name.into());
    o
}

async fn client(endpoint: &str) -> etcd_client::Client {
    etcd_client::Client::connect([endpoint], None)
        .await
        .expect("etcd client")
}

#[tokio::test]
async fn etcd_store_round_trip_and_watch() {
    if !etcd::available("api-store-etcd") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("fulcrum-api-etcd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let local = etcd::start_local(&dir);
    let a: Box<dyn Store> = Box::new(Etcd::new(client(&local.endpoint).await, "/fulcrum/t/"));
    let b: Box<dyn Store> = Box::new(Etcd::new(client(&local.endpoint).await, "/fulcrum/t/"));
    assert!(a.load().await.expect("load").objects.is_empty());
    let mut changes = b.watch().expect("the etcd store watches");
    let mut own = a.watch().expect("the etcd store watches");

    let mut st = State::default();
    st.insert("loadbalancer", "lb-1", obj("lb-1", "web"));
    st.insert("listener", "l-1", obj("l-1", "http"));
    let changed = vec![
        ("loadbalancer".to_string(), "lb-1".to_string()),
        ("listener".to_string(), "l-1".to_string()),
    ];
    a.save(&st, &changed).await.expect("save");

    let signalled = tokio::time::timeout(Duration::from_secs(5), changes.recv()).await;
    assert!(
        matches!(signalled, Ok(Some(()))),
        "the other store saw no change"
    );
    let back = b.load().await.expect("load");
    assert_eq!(
        back.get("loadbalancer", "lb-1"),
        st.get("loadbalancer", "lb-1")
    );
    assert_eq!(back.get("listener", "l-1"), st.get("listener", "l-1"));
    assert_eq!(back.objects.values().map(|m| m.len()).sum::<usize>(), 2);

    // A removal is a removal for everyone.
    st.remove("listener", "l-1");
    b.save(&st, &[("listener".into(), "l-1".into())])
        .await
        .expect("save");
    let back = a.load().await.expect("load");
    assert!(back.get("listener", "l-1").is_none());
    assert!(back.get("loadbalancer", "lb-1").is_some());

    // `a` was told of b's removal but not of its own write.
    let first = tokio::time::timeout(Duration::from_secs(5), own.recv()).await;
    assert!(matches!(first, Ok(Some(()))), "a saw no change by b");
    let more = tokio::time::timeout(Duration::from_millis(500), own.recv()).await;
    assert!(more.is_err(), "a was signalled again (its own write?)");

    // etcd restarted: the watch resumes where it was and signals the next change.
    let mut local = local;
    local.restart();
    st.insert("pool", "p-1", obj("p-1", "after-restart"));
    let mut saved = false;
    for _ in 0..50 {
        // The clients reconnect on their own; a write may fail while they do.
        if b.save(&st, &[("pool".into(), "p-1".into())]).await.is_ok() {
            saved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(saved, "no write after etcd's restart");
    let after = tokio::time::timeout(Duration::from_secs(10), own.recv()).await;
    assert!(matches!(after, Ok(Some(()))), "a's watch did not resume");
    assert!(a.load().await.expect("load").get("pool", "p-1").is_some());

    // Another prefix (another cluster) sees nothing of it.
    let other = Etcd::new(client(&local.endpoint).await, "/fulcrum/other/");
    assert!(other.load().await.expect("load").objects.is_empty());
    drop(local);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two nodes changing one object at once: each write compares the keys' mod_revision with
/// what its node last read or wrote, so the second writer of a stale object (or the second
/// creator of a key) gets `Conflict` and writes nothing of its change; after reading again it
/// writes.
#[tokio::test]
async fn etcd_store_compare_and_swap() {
    use fulcrum_api::store::StoreError;
    if !etcd::available("api-store-etcd-cas") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("fulcrum-api-etcd-cas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let local = etcd::start_local(&dir);
    let a: Box<dyn Store> = Box::new(Etcd::new(client(&local.endpoint).await, "/fulcrum/c/"));
    let b: Box<dyn Store> = Box::new(Etcd::new(client(&local.endpoint).await, "/fulcrum/c/"));
    let key = |k: &str, i: &str| vec![(k.to_string(), i.to_string())];

    // Both read the same pool.
    let mut st = State::default();
    st.insert("pool", "p", obj("p", "v0"));
    a.save(&st, &key("pool", "p")).await.expect("create");
    let mut sa = a.load().await.expect("load a");
    let mut sb = b.load().await.expect("load b");

    // A writes first; B's write of its stale copy loses, with its other key untouched.
    sa.insert("pool", "p", obj("p", "from-a"));
    a.save(&sa, &key("pool", "p")).await.expect("a wins");
    sb.insert("pool", "p", obj("p", "from-b"));
    sb.insert("member", "m", obj("m", "from-b"));
    let both = vec![
        ("pool".to_string(), "p".to_string()),
        ("member".to_string(), "m".to_string()),
    ];
    assert_eq!(b.save(&sb, &both).await, Err(StoreError::Conflict));
    let now = a.load().await.expect("load");
    assert_eq!(
        now.get("pool", "p").and_then(|o| o.get("name")),
        Some(&"from-a".into())
    );
    assert!(
        now.get("member", "m").is_none(),
        "nothing of the losing change is written"
    );

    // B reads again, then its write goes through; A's copy is stale now.
    let mut sb = b.load().await.expect("reload b");
    sb.insert("pool", "p", obj("p", "from-b"));
    b.save(&sb, &key("pool", "p"))
        .await
        .expect("b after reload");
    assert_eq!(
        a.save(&sa, &key("pool", "p")).await,
        Err(StoreError::Conflict)
    );

    // Two nodes creating the same key: the second finds it exists.
    let mut na = State::default();
    na.insert("quota", "proj", obj("proj", "a"));
    let mut nb = State::default();
    nb.insert("quota", "proj", obj("proj", "b"));
    a.save(&na, &key("quota", "proj"))
        .await
        .expect("first create");
    assert_eq!(
        b.save(&nb, &key("quota", "proj")).await,
        Err(StoreError::Conflict)
    );
    // A delete of a stale copy loses too; after reading, it goes through.
    let sa = a.load().await.expect("load");
    let mut gone = sa.clone();
    gone.remove("pool", "p");
    let mut sb = b.load().await.expect("load");
    sb.insert("pool", "p", obj("p", "b-again"));
    b.save(&sb, &key("pool", "p")).await.expect("b writes");
    assert_eq!(
        a.save(&gone, &key("pool", "p")).await,
        Err(StoreError::Conflict)
    );
    a.load().await.expect("reload a");
    a.save(&gone, &key("pool", "p"))
        .await
        .expect("delete after reload");
    assert!(b.load().await.expect("load").get("pool", "p").is_none());
    drop(local);
    let _ = std::fs::remove_dir_all(&dir);
}
