//! An SMTP server fake on a local port, speaking enough of RFC 5321 for a
//! real client (lettre): greeting, EHLO/HELO, MAIL, RCPT, DATA with dot
//! unstuffing, RSET, NOOP, QUIT. The tests and the demo point `SMTP_URL` at it
//! and script its answer to each message (250, 451, 550).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The answer to the next message's end of DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// 250: accepted.
    Accept,
    /// This reply code instead (451 = try later, 550 = refused).
    Refuse(u16),
}

/// A message the fake accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent, headers and encoded body, dot-unstuffed, CRLF.
    pub data: String,
}

impl Received {
    /// A header's value, unfolded (the first one with that name).
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.data.split_once("\r\n\r\n")?;
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.split("\r\n").find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    pub fn subject(&self) -> Option<String> {
        self.header("Subject")
    }

    /// The body, decoded from its transfer encoding, with `\n` line ends.
    pub fn body(&self) -> String {
        let raw = self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let encoding = self.header("Content-Transfer-Encoding").unwrap_or_default().to_ascii_lowercase();
        let text = match encoding.as_str() {
            "quoted-printable" => decode_quoted_printable(raw),
            "base64" => {
                let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
                let bytes = base64::engine::general_purpose::STANDARD.decode(compact).unwrap_or_default();
                String::from_utf8_lossy(&bytes).into_owned()
            }
            _ => raw.to_owned(),
        };
        text.replace("\r\n", "\n")
    }
}

fn decode_quoted_printable(s: &str) -> String {
    let s = s.replace("=\r\n", "");
    let mut out = Vec::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Reply>,
    received: Vec<Received>,
    /// Every message that reached the end of DATA, accepted or not.
    attempts: usize,
}

#[derive(Clone)]
pub struct FakeSmtp {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeSmtp {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let fake = FakeSmtp { addr: listener.local_addr()?, inner: Arc::default() };
        let server = fake.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = server.clone();
                tokio::spawn(async move {
                    let _ = s.session(stream).await;
                });
            }
        });
        Ok(fake)
    }

    /// `SMTP_URL` for this server (plain SMTP, no auth).
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Queues answers for the next messages; afterwards it accepts.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().script.extend(replies);
    }

    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// Messages that reached the end of DATA, accepted or refused.
    pub fn attempts(&self) -> usize {
        self.lock().attempts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn session(&self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 fake-smtp ESMTP ready\r\n").await?;
        let (mut from, mut to) = (String::new(), Vec::new());
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let cmd = line.trim_end().to_owned();
            let verb = cmd.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
            let answer: String = match verb.as_str() {
                "EHLO" => "250-fake-smtp\r\n250 8BITMIME\r\n".into(),
                "HELO" | "NOOP" => "250 OK\r\n".into(),
                "MAIL" => {
                    from = address(&cmd);
                    to.clear();
                    "250 OK\r\n".into()
                }
                "RCPT" => {
                    to.push(address(&cmd));
                    "250 OK\r\n".into()
                }
                "RSET" => {
                    (from, to) = (String::new(), Vec::new());
                    "250 OK\r\n".into()
                }
                "DATA" => {
                    write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                    let data = read_data(&mut lines).await?;
                    let received = Received { from: std::mem::take(&mut from), to: std::mem::take(&mut to), data };
                    self.finish(received)
                }
                "QUIT" => {
                    write.write_all(b"221 Bye\r\n").await?;
                    return Ok(());
                }
                _ => "502 Command not implemented\r\n".into(),
            };
            write.write_all(answer.as_bytes()).await?;
        }
    }

    /// Records the message and returns the scripted answer to it.
    fn finish(&self, received: Received) -> String {
        let mut inner = self.lock();
        inner.attempts += 1;
        match inner.script.pop_front().unwrap_or(Reply::Accept) {
            Reply::Accept => {
                inner.received.push(received);
                "250 OK: queued\r\n".into()
            }
            Reply::Refuse(code) => format!("{code} scripted refusal\r\n"),
        }
    }
}

/// The address inside `MAIL FROM:<…>` / `RCPT TO:<…>`.
fn address(cmd: &str) -> String {
    let start = cmd.find('<').map_or(0, |i| i + 1);
    let end = cmd.rfind('>').unwrap_or(cmd.len());
    cmd.get(start..end).unwrap_or("").to_owned()
}

/// Reads the message up to the lone `.`, undoing dot-stuffing.
async fn read_data<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut R) -> std::io::Result<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let content = line.trim_end_matches(['\r', '\n']);
        if content == "." {
            return Ok(data);
        }
        data.push_str(content.strip_prefix('.').unwrap_or(content));
        data.push_str("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_and_headers_decode() {
        let r = Received {
            from: "a@b".into(),
            to: vec![],
            data: "Subject: Hello\r\n there\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nA=3DB soft=\r\nbreak\r\n"
                .into(),
        };
        assert_eq!(r.subject().as_deref(), Some("Hello there"));
        assert_eq!(r.body(), "A=B softbreak\n");
        assert_eq!(address("MAIL FROM:<x@y.z> SIZE=10"), "x@y.z");
    }
}
