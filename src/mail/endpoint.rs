//! Where the SMTP server is and how the connection to it is protected, read
//! from `mail.url` (the forms are listed on `MailSettings::url`).

use std::fmt;
use std::net::IpAddr;
use url::{Host, Url};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`smtps://`).
    Tls,
    /// Plain connection upgraded by STARTTLS, refused when the server
    /// does not offer it (`?tls=required`).
    StartTls,
    /// No encryption: this machine only, or said with `?tls=none`.
    Plain,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpEndpoint {
    /// A domain name or an IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    pub security: Security,
}

impl SmtpEndpoint {
    /// Reads `mail.url`. The message never repeats the URL, which might
    /// hold a password by mistake.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = Url::parse(url.trim())
            .map_err(|e| format!("is not a URL like smtps://mail.example.com ({e})"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("credentials go in mail.username and mail.password \
                 (KASSA_MAIL__USERNAME, KASSA_MAIL__PASSWORD), not in the URL"
                .into());
        }
        // smtp:// is no scheme the URL standard knows, so its host comes
        // as text even when it is an IPv4 address.
        let host = match url.host() {
            Some(Host::Domain(name)) if !name.is_empty() => name.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err("names no host".into()),
        };
        let loopback = is_loopback(&host);
        if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
            return Err("takes no path or fragment, only ?tls=…".into());
        }
        let mut tls = None;
        for (key, value) in url.query_pairs() {
            if key != "tls" || tls.is_some() {
                return Err(format!(
                    "unknown or repeated parameter '{key}'; only tls is known"
                ));
            }
            tls = Some(value.into_owned());
        }
        let security = match (url.scheme(), tls.as_deref()) {
            ("smtps", None) => Security::Tls,
            ("smtps", Some(_)) => {
                return Err("smtps:// is always encrypted; leave ?tls out".into());
            }
            ("smtp", Some("required")) => Security::StartTls,
            ("smtp", Some("none")) => Security::Plain,
            ("smtp", None) if loopback => Security::Plain,
            ("smtp", None) => {
                return Err(format!(
                    "would send mail unencrypted to {host}: use smtps://, add ?tls=required \
                     (STARTTLS), or ?tls=none to send unencrypted on purpose"
                ));
            }
            ("smtp", Some(other)) => {
                return Err(format!("tls={other} is unknown; use required or none"));
            }
            (scheme, _) => {
                return Err(format!(
                    "scheme {scheme}:// is unknown; use smtps:// or smtp://"
                ));
            }
        };
        let default_port = match security {
            Security::Tls => 465,
            Security::StartTls => 587,
            Security::Plain => 25,
        };
        Ok(Self {
            host,
            port: url.port().unwrap_or(default_port),
            security,
        })
    }

    /// Whatever is sent would cross a network unencrypted.
    pub fn leaves_machine_unencrypted(&self) -> bool {
        self.security == Security::Plain && !is_loopback(&self.host)
    }
}

/// `localhost`, `127.0.0.0/8` or `::1`: this machine.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Display for SmtpEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let security = match self.security {
            Security::Tls => "TLS",
            Security::StartTls => "STARTTLS",
            Security::Plain => "unencrypted",
        };
        if self.host.contains(':') {
            write!(f, "[{}]:{} ({security})", self.host, self.port)
        } else {
            write!(f, "{}:{} ({security})", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(url: &str) -> SmtpEndpoint {
        SmtpEndpoint::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn the_three_securities_and_their_ports() {
        assert_eq!(
            parsed("smtps://mail.example.com"),
            SmtpEndpoint {
                host: "mail.example.com".into(),
                port: 465,
                security: Security::Tls
            }
        );
        let starttls = parsed("smtp://mail.example.com?tls=required");
        assert_eq!(
            (starttls.port, starttls.security),
            (587, Security::StartTls)
        );
        let local = parsed("smtp://127.0.0.1:2525");
        assert_eq!((local.port, local.security), (2525, Security::Plain));
        assert!(!local.leaves_machine_unencrypted());
        let ipv6 = parsed("smtp://[::1]:2525");
        assert_eq!(ipv6.host, "::1");
        assert_eq!(ipv6.to_string(), "[::1]:2525 (unencrypted)");
        let relay = parsed("smtp://relay.internal?tls=none");
        assert_eq!((relay.port, relay.security), (25, Security::Plain));
        assert!(relay.leaves_machine_unencrypted());
        assert_eq!(parsed("smtp://LocalHost:25").security, Security::Plain);
        assert_eq!(parsed("smtp://127.1.2.3").security, Security::Plain);
        assert!(SmtpEndpoint::parse("smtp://10.0.0.1").is_err());
        assert!(SmtpEndpoint::parse("smtp://127.0.0.1.example.com").is_err());
    }

    #[test]
    fn unsafe_or_unclear_urls_are_refused() {
        for (url, says) in [
            ("smtp://mail.example.com", "unencrypted"),
            (
                "smtp://user:secret@mail.example.com?tls=required",
                "mail.username",
            ),
            ("smtps://mail.example.com?tls=none", "always encrypted"),
            ("smtp://mail.example.com?tls=maybe", "tls=maybe"),
            ("smtp://mail.example.com?tls=required&x=1", "'x'"),
            ("smtp://mail.example.com?tls=required&tls=none", "repeated"),
            ("http://mail.example.com", "http://"),
            ("smtps://mail.example.com/path", "path"),
            ("mail.example.com", "not a URL"),
            ("smtps://", "host"),
        ] {
            let err = SmtpEndpoint::parse(url).expect_err(url);
            assert!(err.contains(says), "{url}: {err}");
            assert!(!err.contains("secret"), "{url}: {err}");
        }
    }
}
