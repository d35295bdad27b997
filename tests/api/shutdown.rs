//! Stopping a real `kassa` process: SIGTERM (or SIGINT) stops accepting,
//! lets the request in flight finish and the workers end their steps, and
//! the node exits cleanly; a second signal ends it at once.

use crate::helpers::*;
use crate::logs::{Node, shop_and_node};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

on_both_backends!(
    a_stopped_node_finishes_the_request_in_flight_and_exits_cleanly,
    a_second_signal_ends_the_node_at_once,
);

fn signal(node: &Node, name: &str) {
    let sent = std::process::Command::new("kill")
        .args([&format!("-{name}"), &node.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// The node's exit status, waited for up to `within`.
fn exit_within(node: &mut Node, within: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < within {
        if let Some(status) = node.child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// A cart addition whose head is sent and whose body is not yet: a request
/// in flight. Returns the connection and the body still to send.
async fn request_in_flight(app: &TestApp) -> (TcpStream, String) {
    let home = app.client.get(app.url("/")).send().await.unwrap();
    let cookie = home
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .find_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .expect("a session cookie");
    let csrf = csrf_token(&home.text().await.unwrap());
    let body = format!("product_id=hand-grinder&quantity=1&csrf_token={csrf}");
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "POST /cart/add HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    // The node has the head before it is told to stop.
    tokio::time::sleep(Duration::from_millis(200)).await;
    (stream, body)
}

async fn a_stopped_node_finishes_the_request_in_flight_and_exits_cleanly(backend: Backend) {
    for name in ["TERM", "INT"] {
        let (app, mut node) = shop_and_node(backend, "json").await;
        let (mut stream, body) = request_in_flight(&app).await;
        signal(&node, name);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            node.child.try_wait().unwrap().is_none(),
            "SIG{name}: the node waits for the request in flight"
        );
        let address = app.address.trim_start_matches("http://");
        assert!(
            TcpStream::connect(address).is_err(),
            "SIG{name}: a stopping node takes no new connection"
        );

        stream.write_all(body.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 303"),
            "SIG{name}: the request in flight is answered: {answer}"
        );

        let status = exit_within(&mut node, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("SIG{name}: the node did not exit"));
        assert!(status.success(), "SIG{name}: {status}");
        let log = node.log();
        assert!(log.contains("stopping: no new connections"), "{log}");
        assert!(log.contains("\"stopped\""), "{log}");
    }
}

async fn a_second_signal_ends_the_node_at_once(backend: Backend) {
    let (app, mut node) = shop_and_node(backend, "json").await;
    let (mut stream, _body) = request_in_flight(&app).await;
    signal(&node, "TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(node.child.try_wait().unwrap().is_none(), "still waiting");
    signal(&node, "INT");
    let status = exit_within(&mut node, Duration::from_secs(3))
        .expect("a second signal ends the node at once");
    assert!(!status.success(), "{status}");
    // The request in flight was never answered.
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(!answer.starts_with("HTTP/1.1"), "{answer}");
    assert!(node.log().contains("stopping at once"));
}
