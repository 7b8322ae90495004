//! Connections that never send a ClientHello and bodies that never finish arriving must not
//! lock a real client out (issue 8, "Bounded before authentication"): the handshake timeout
//! frees the first, `server.body_timeout_ms` cuts off the second, and `server.max_handshakes`
//! leaves room beside 2,000 silent connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::helpers::*;
use crate::raw;

const SILENT: usize = 2000;
const SLOW: usize = 200;
const BODY_TIMEOUT_MS: u64 = 3000;
/// The acceptance criterion for a real client under this load.
const SERVED_WITHIN: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_are_served_while_silent_and_slow_connections_are_held() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let fds = raw::raise_fd_limit(16_384);
    let needed = 2 * (SILENT + SLOW) as u64 + 256;
    assert!(fds >= needed, "open-file limit {fds}, need {needed}");
    let app = spawn_app_with(|s| {
        s.server.body_timeout_ms = BODY_TIMEOUT_MS;
        s.server.handshake_timeout_ms = 1000;
    })
    .await;
    let addr = raw::server_addr(&app.base);
    let (stop_tx, stop_rx) = watch::channel(false);
    // Nothing below outlives this, whatever happens.
    let hard_stop = tokio::time::Instant::now() + Duration::from_secs(90);

    // SILENT connections that never speak. Each one the server closes (handshake timeout) is
    // opened again at once, so SILENT are held all through the test.
    let held = Arc::new(AtomicUsize::new(0));
    let closed_by_server = Arc::new(AtomicUsize::new(0));
    let opening = Instant::now();
    let silent: Vec<_> = (0..SILENT)
        .map(|_| {
            let (held, closed, mut stop) =
                (held.clone(), closed_by_server.clone(), stop_rx.clone());
            tokio::spawn(async move {
                for _ in 0..1000 {
                    if *stop.borrow() || tokio::time::Instant::now() >= hard_stop {
                        break;
                    }
                    let connect =
                        tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr));
                    let Ok(Ok(mut tcp)) = connect.await else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    held.fetch_add(1, Ordering::SeqCst);
                    let mut byte = [0u8; 1];
                    let stopped = tokio::select! {
                        _ = tcp.read(&mut byte) => {
                            closed.fetch_add(1, Ordering::SeqCst);
                            false
                        }
                        _ = stop.wait_for(|s| *s) => true,
                        _ = tokio::time::sleep_until(hard_stop) => true,
                    };
                    held.fetch_sub(1, Ordering::SeqCst);
                    if stopped {
                        break;
                    }
                }
            })
        })
        .collect();
    wait_until(
        "the silent connections are open",
        Duration::from_secs(30),
        || held.load(Ordering::SeqCst) >= SILENT,
    )
    .await;
    println!(
        "{SILENT} silent connections open in {:.0} ms",
        opening.elapsed().as_secs_f64() * 1000.0
    );

    // SLOW connections: mutual TLS, a valid token, a Content-Length far beyond what is sent,
    // then one byte every 300 ms.
    let connector = raw::connector(&app.pki);
    let head = format!(
        "POST /Appointment HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/fhir+json\r\nContent-Length: 60000\r\n\r\n{{",
        app.token()
    );
    let sending = Arc::new(AtomicUsize::new(0));
    let slow: Vec<_> = (0..SLOW)
        .map(|_| {
            let (connector, head, sending) = (connector.clone(), head.clone(), sending.clone());
            tokio::spawn(async move {
                let connect =
                    tokio::time::timeout(Duration::from_secs(20), raw::tls(&connector, addr));
                let mut stream = match connect.await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => return (Duration::ZERO, format!("connect failed: {e}")),
                    Err(_) => return (Duration::ZERO, "connect timed out".into()),
                };
                if let Err(e) = stream.write_all(head.as_bytes()).await {
                    return (Duration::ZERO, format!("head not sent: {e}"));
                }
                let started = Instant::now();
                sending.fetch_add(1, Ordering::SeqCst);
                let ended = trickle(stream, hard_stop).await;
                (started.elapsed(), ended)
            })
        })
        .collect();
    wait_until(
        "the slow bodies are being sent",
        Duration::from_secs(30),
        || sending.load(Ordering::SeqCst) >= SLOW,
    )
    .await;
    let slow_started = Instant::now();

    // A real client, while both kinds are held: each request on a new connection (its own TLS
    // handshake, which is what the silent connections compete for).
    let mut latencies = Vec::new();
    for i in 0..6 {
        let client = client_for(&app.pki, Some(&app.pki));
        let started = Instant::now();
        let status = if i % 2 == 0 {
            let response = client.get(app.url("/_health")).send();
            tokio::time::timeout(Duration::from_secs(10), response).await
        } else {
            let mut appointment = valid_appointment();
            appointment["identifier"] =
                serde_json::json!([{"system": "urn:ietf:rfc:3986", "value": format!("urn:hostile:{i}")}]);
            let response = client
                .post(app.url("/Appointment"))
                .bearer_auth(app.token())
                .header("Content-Type", "application/fhir+json")
                .body(appointment.to_string())
                .send();
            tokio::time::timeout(Duration::from_secs(10), response).await
        }
        .expect("answered within 10 s")
        .expect("request sent")
        .status()
        .as_u16();
        latencies.push((i, status, started.elapsed()));
    }
    let under_load = held.load(Ordering::SeqCst);
    let still_sending = SLOW - slow.iter().filter(|t| t.is_finished()).count();
    for (i, status, took) in &latencies {
        println!(
            "real client request {i} ({}): {status} in {:.1} ms",
            if i % 2 == 0 {
                "GET /_health"
            } else {
                "POST /Appointment"
            },
            took.as_secs_f64() * 1000.0
        );
    }
    println!(
        "while measuring: {under_load} silent connections held, {still_sending} slow bodies still \
         sending ({:.0} ms after the last started)",
        slow_started.elapsed().as_secs_f64() * 1000.0
    );
    assert!(
        slow_started.elapsed() < Duration::from_millis(BODY_TIMEOUT_MS),
        "the measurement must fall while the slow bodies are held"
    );
    for (i, status, took) in &latencies {
        assert_eq!(*status, if i % 2 == 0 { 200 } else { 201 });
        assert!(*took < SERVED_WITHIN, "request {i} took {took:?}");
    }

    // The slow bodies are cut off by the body deadline: 408 or a closed connection.
    let mut ends = Vec::new();
    for task in slow {
        ends.push(task.await.expect("slow task"));
    }
    let answered_408 = ends
        .iter()
        .filter(|(_, how)| how.starts_with("HTTP/1.1 408"))
        .count();
    let mut times: Vec<f64> = ends.iter().map(|(t, _)| t.as_secs_f64() * 1000.0).collect();
    times.sort_by(f64::total_cmp);
    println!(
        "slow bodies cut off after {:.0} / {:.0} / {:.0} ms (min / median / max); {answered_408} \
         answered 408, {} closed",
        times[0],
        times[times.len() / 2],
        times[times.len() - 1],
        ends.len() - answered_408
    );
    for (took, how) in &ends {
        assert!(
            how.starts_with("HTTP/1.1 408") || how == "closed" || how.starts_with("reset"),
            "a slow body ended with: {how}"
        );
        let body_timeout = Duration::from_millis(BODY_TIMEOUT_MS);
        assert!(
            *took >= body_timeout - Duration::from_millis(100)
                && *took <= body_timeout + Duration::from_secs(5),
            "cut off after {took:?}, not at the body deadline"
        );
    }

    // The silent connections were freed by the handshake timeout, again and again.
    stop_tx.send(true).expect("stop");
    for task in silent {
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("silent task stops")
            .expect("silent task");
    }
    let closed = closed_by_server.load(Ordering::SeqCst);
    println!("the server closed {closed} silent connections (handshake timeout)");
    assert!(
        closed >= SILENT,
        "only {closed} silent connections were closed by the server"
    );
    assert_eq!(app.status_of("/_health").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_chunked_bodies_are_answered_and_closed_not_drained() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let app = spawn_app_with(|s| s.server.body_timeout_ms = 500).await;
    // Authenticated: the body deadline answers 408, then the connection closes.
    let (took, answer) = chunked_trickle(&app, Some(&app.token())).await;
    println!(
        "chunked slow body with a token: closed {:.0} ms after its head",
        took.as_secs_f64() * 1000.0
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"timeout\""), "{answer}");
    assert!(took >= Duration::from_millis(450), "{took:?}");
    // Without a token: 403 before any body is read, then closed, not drained.
    let (took, answer) = chunked_trickle(&app, None).await;
    println!(
        "chunked slow body without a token: closed {:.0} ms after its head",
        took.as_secs_f64() * 1000.0
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    // The keep-alive still works for bodies that were read to the end.
    let client = client_for(&app.pki, Some(&app.pki));
    for _ in 0..3 {
        let response = client
            .post(app.url("/Appointment/_search"))
            .bearer_auth(app.token())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("patient=1234554321")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

/// POSTs a chunked body one byte every 100 ms until the server closes the connection (at most
/// 5 s); returns how long that took and everything the server sent.
async fn chunked_trickle(app: &TestApp, token: Option<&str>) -> (Duration, String) {
    let mut stream = raw::tls(&raw::connector(&app.pki), raw::server_addr(&app.base))
        .await
        .expect("TLS connection");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST /Appointment HTTP/1.1\r\nHost: localhost\r\n{auth}\
         Content-Type: application/fhir+json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{{\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head sent");
    let started = Instant::now();
    let (mut rd, mut wr) = tokio::io::split(stream);
    let writer = tokio::spawn(async move {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if wr.write_all(b"1\r\n \r\n").await.is_err() || wr.flush().await.is_err() {
                break;
            }
        }
    });
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 4096];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let took = started.elapsed();
    writer.abort();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(closed.is_ok(), "still open after {took:?}: {answer}");
    (took, answer)
}

/// Sends one body byte every 300 ms until the server answers or closes; returns the status
/// line, "closed" or "reset: …".
async fn trickle<S>(stream: S, hard_stop: tokio::time::Instant) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut tick = tokio::time::interval(Duration::from_millis(300));
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let mut writing = true;
    loop {
        tokio::select! {
            read = rd.read(&mut buf) => match read {
                Ok(0) if got.is_empty() => return "closed".into(),
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    if let Some(end) = got.windows(2).position(|w| w == b"\r\n") {
                        return String::from_utf8_lossy(&got[..end]).into_owned();
                    }
                    if n == 0 {
                        return "closed".into();
                    }
                }
                Err(e) if got.is_empty() => return format!("reset: {e}"),
                Err(_) => return String::from_utf8_lossy(&got).into_owned(),
            },
            _ = tick.tick(), if writing => {
                writing = wr.write_all(b" ").await.is_ok() && wr.flush().await.is_ok();
            }
            _ = tokio::time::sleep_until(hard_stop) => return "still open".into(),
        }
    }
}

/// Polls `done` every 20 ms until it holds; panics naming `what` after `within`.
async fn wait_until(what: &str, within: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
