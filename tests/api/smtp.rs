//! A small SMTP server for the tests, on 127.0.0.1 only, without TLS: it
//! speaks EHLO/HELO, AUTH PLAIN/LOGIN (any login), MAIL, RCPT, DATA (with
//! dot-unstuffing), RSET, NOOP and QUIT, keeps what it receives, and can be
//! told to misbehave (`SmtpMode`). A recipient whose local part starts with
//! `refuse` gets 550 at RCPT, a login whose user name does 535. It stops
//! when the `SmtpServer` is dropped.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use mail_parser::MessageParser;
use std::future::poll_fn;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SmtpMode {
    /// Takes every mail (but refuses `refuse…` recipients).
    Accept,
    /// 451 at MAIL FROM and at DATA: try again later.
    Busy,
    /// Not listening: connections are refused, open ones are closed.
    /// Another mode listens again on the same port.
    Down,
    /// Closes the connection without answering the final dot.
    DropAfterData,
    /// Answers the final dot only once the mode changes (then 250, and the
    /// mail counts as received): a server that hangs mid-exchange.
    Stall,
}

/// A mail as the server got it.
#[derive(Debug, Clone)]
pub(crate) struct ReceivedMail {
    /// RCPT TO addresses.
    pub envelope_to: Vec<String>,
    /// The message after dot-unstuffing, CRLF line ends.
    pub raw: Vec<u8>,
    /// Decoded Subject.
    pub subject: String,
    /// Decoded To: `Name <address>`, or the address alone.
    pub to: String,
    /// Without the angle brackets.
    pub message_id: String,
    pub text: String,
    pub html: String,
    /// The top-level headers in order, values as sent (encoded), unfolded.
    pub headers: Vec<(String, String)>,
    /// The user name given with AUTH on the connection, if any.
    pub login: Option<String>,
}

impl ReceivedMail {
    /// The values of the header `name` (any case).
    pub(crate) fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

pub(crate) struct SmtpServer {
    shared: Arc<Shared>,
}

struct Shared {
    port: u16,
    mode: watch::Sender<SmtpMode>,
    listener: Mutex<Option<TcpListener>>,
    /// The accept loop and every connection; aborted when going down.
    tasks: Mutex<JoinSet<()>>,
    received: Mutex<Vec<ReceivedMail>>,
    connections: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SmtpServer {
    pub(crate) async fn start() -> SmtpServer {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind SMTP");
        let port = listener.local_addr().expect("SMTP address").port();
        let shared = Arc::new(Shared {
            port,
            mode: watch::Sender::new(SmtpMode::Accept),
            listener: Mutex::new(None),
            tasks: Mutex::new(JoinSet::new()),
            received: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
        });
        listen_on(&shared, listener);
        SmtpServer { shared }
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.shared.port)
    }

    pub(crate) fn set_mode(&self, mode: SmtpMode) {
        let before = self.shared.mode.send_replace(mode);
        if mode == SmtpMode::Down && before != SmtpMode::Down {
            stop_listening(&self.shared);
        } else if before == SmtpMode::Down && mode != SmtpMode::Down {
            let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.shared.port));
            let listener = std::net::TcpListener::bind(address).expect("bind the SMTP port again");
            listen_on(&self.shared, listener);
        }
    }

    pub(crate) fn received(&self) -> Vec<ReceivedMail> {
        lock(&self.shared.received).clone()
    }

    /// How many connections were opened to the server so far.
    pub(crate) fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    pub(crate) async fn wait_for_count(&self, n: usize, within: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            if tokio::time::Instant::now() >= deadline {
                let arrived: Vec<String> = received
                    .iter()
                    .map(|m| format!("{:?} to {:?}", m.subject, m.envelope_to))
                    .collect();
                panic!(
                    "expected {n} mails within {within:?}, {} arrived: {arrived:#?}",
                    received.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        stop_listening(&self.shared);
    }
}

/// Closes the listening socket at once (so a connection right after is
/// refused, not queued) and ends every connection.
fn stop_listening(shared: &Shared) {
    lock(&shared.listener).take();
    lock(&shared.tasks).abort_all();
}

fn listen_on(shared: &Arc<Shared>, listener: std::net::TcpListener) {
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let listener = TcpListener::from_std(listener).expect("tokio listener");
    *lock(&shared.listener) = Some(listener);
    let accepting = Arc::clone(shared);
    lock(&shared.tasks).spawn(async move {
        while let Some(accepted) = accept(&accepting).await {
            let Ok(stream) = accepted else { continue };
            accepting.connections.fetch_add(1, Ordering::SeqCst);
            let serving = Arc::clone(&accepting);
            let mut tasks = lock(&accepting.tasks);
            while tasks.try_join_next().is_some() {}
            tasks.spawn(serve(serving, stream));
        }
    });
}

/// The next connection; `None` once the listener is gone. The listener is
/// only borrowed while polled, so `stop_listening` can close it at once.
async fn accept(shared: &Shared) -> Option<io::Result<TcpStream>> {
    poll_fn(|cx| match lock(&shared.listener).as_ref() {
        None => Poll::Ready(None),
        Some(listener) => listener
            .poll_accept(cx)
            .map(|accepted| Some(accepted.map(|(stream, _)| stream))),
    })
    .await
}

/// One connection's state.
#[derive(Default)]
struct Session {
    from: Option<String>,
    to: Vec<String>,
    login: Option<String>,
}

async fn serve(shared: Arc<Shared>, stream: TcpStream) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut session = Session::default();
    if answer(&mut write, "220 kassa-test ESMTP").await.is_err() {
        return;
    }
    while let Some(line) = read_line(&mut read).await {
        let line = String::from_utf8_lossy(&line).into_owned();
        let (verb, argument) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let mode = *shared.mode.borrow();
        let reply = match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                "250-kassa-test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN".into()
            }
            "HELO" => "250 kassa-test".into(),
            "AUTH" => match authenticate(argument, &mut read, &mut write).await {
                Some(user) if user.starts_with("refuse") => {
                    "535 5.7.8 Authentication credentials invalid".into()
                }
                Some(user) => {
                    session.login = Some(user);
                    "235 2.7.0 Authentication successful".into()
                }
                None => "501 5.5.2 Cannot decode the login".into(),
            },
            "MAIL" if mode == SmtpMode::Busy => "451 4.3.2 Busy, try again later".into(),
            "MAIL" => {
                session.from = Some(path_of(argument));
                session.to.clear();
                "250 2.1.0 Ok".into()
            }
            "RCPT" if session.from.is_none() => "503 5.5.1 MAIL first".into(),
            "RCPT" => {
                let to = path_of(argument);
                if to.to_ascii_lowercase().starts_with("refuse") {
                    format!("550 5.1.1 <{to}>: no such mailbox")
                } else {
                    session.to.push(to);
                    "250 2.1.5 Ok".into()
                }
            }
            "DATA" if session.from.is_none() || session.to.is_empty() => {
                "503 5.5.1 MAIL and RCPT first".into()
            }
            "DATA" if mode == SmtpMode::Busy => "451 4.3.2 Busy, try again later".into(),
            "DATA" => {
                if answer(&mut write, "354 End data with <CR><LF>.<CR><LF>")
                    .await
                    .is_err()
                {
                    return;
                }
                let Some(raw) = read_data(&mut read).await else {
                    return;
                };
                let mode_now = *shared.mode.borrow();
                match mode_now {
                    SmtpMode::DropAfterData => return,
                    SmtpMode::Stall => {
                        let mut mode = shared.mode.subscribe();
                        let _ = mode.wait_for(|m| *m != SmtpMode::Stall).await;
                    }
                    _ => {}
                }
                let envelope_to = std::mem::take(&mut session.to);
                session.from = None;
                let mail = received_mail(envelope_to, raw, session.login.clone());
                lock(&shared.received).push(mail);
                "250 2.0.0 Ok: queued".into()
            }
            "RSET" => {
                session.from = None;
                session.to.clear();
                "250 2.0.0 Ok".into()
            }
            "NOOP" => "250 2.0.0 Ok".into(),
            "QUIT" => {
                let _ = answer(&mut write, "221 2.0.0 Bye").await;
                return;
            }
            _ => "502 5.5.2 Command not recognized".to_owned(),
        };
        if answer(&mut write, &reply).await.is_err() {
            return;
        }
    }
}

async fn answer(write: &mut OwnedWriteHalf, reply: &str) -> io::Result<()> {
    write.write_all(format!("{reply}\r\n").as_bytes()).await
}

/// One line without its CRLF; `None` at the end of the connection.
async fn read_line(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    match read.read_until(b'\n', &mut line).await {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                line.pop();
            }
            Some(line)
        }
    }
}

/// The message up to the lone dot, a leading dot of each line removed.
async fn read_data(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<Vec<u8>> {
    let mut raw = Vec::new();
    loop {
        let line = read_line(read).await?;
        if line == b"." {
            return Some(raw);
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        raw.extend_from_slice(line);
        raw.extend_from_slice(b"\r\n");
    }
}

/// The user name of an AUTH PLAIN or LOGIN exchange (any password will do).
async fn authenticate(
    argument: &str,
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    write: &mut OwnedWriteHalf,
) -> Option<String> {
    let (mechanism, initial) = argument.split_once(' ').unwrap_or((argument, ""));
    let mut next = async |challenge: &str| -> Option<Vec<u8>> {
        answer(write, challenge).await.ok()?;
        BASE64.decode(read_line(read).await?).ok()
    };
    match mechanism.to_ascii_uppercase().as_str() {
        "PLAIN" => {
            let decoded = match initial {
                "" => next("334 ").await?,
                initial => BASE64.decode(initial).ok()?,
            };
            let mut parts = decoded.split(|b| *b == 0);
            let (_authzid, user) = (parts.next()?, parts.next()?);
            parts.next()?;
            String::from_utf8(user.to_vec()).ok()
        }
        "LOGIN" => {
            let user = match initial {
                "" => next("334 VXNlcm5hbWU6").await?,
                initial => BASE64.decode(initial).ok()?,
            };
            next("334 UGFzc3dvcmQ6").await?;
            String::from_utf8(user).ok()
        }
        _ => None,
    }
}

/// `<a@b>` out of `FROM:<a@b> BODY=8BITMIME` or `TO:<a@b>`.
fn path_of(argument: &str) -> String {
    let start = argument.find('<').map_or(0, |i| i + 1);
    let end = argument[start..]
        .find('>')
        .map_or(argument.len(), |i| start + i);
    argument[start..end].to_owned()
}

fn received_mail(envelope_to: Vec<String>, raw: Vec<u8>, login: Option<String>) -> ReceivedMail {
    let parsed = MessageParser::default().parse(&raw);
    let (subject, to, message_id, text, html, headers) =
        match &parsed {
            Some(message) => {
                let to = message.to().and_then(|to| to.first()).map(|to| {
                    match (to.name(), to.address()) {
                        (Some(name), Some(address)) => format!("{name} <{address}>"),
                        (_, address) => address.unwrap_or_default().to_owned(),
                    }
                });
                let headers = message
                    .headers_raw()
                    .map(|(name, value)| (name.to_owned(), unfold(value)))
                    .collect();
                (
                    message.subject().unwrap_or_default().to_owned(),
                    to.unwrap_or_default(),
                    message.message_id().unwrap_or_default().to_owned(),
                    message.body_text(0).unwrap_or_default().into_owned(),
                    message.body_html(0).unwrap_or_default().into_owned(),
                    headers,
                )
            }
            None => Default::default(),
        };
    ReceivedMail {
        envelope_to,
        raw,
        subject,
        to,
        message_id,
        text,
        html,
        headers,
        login,
    }
}

fn unfold(value: &str) -> String {
    value
        .replace("\r\n ", " ")
        .replace("\r\n\t", " ")
        .trim()
        .to_owned()
}
