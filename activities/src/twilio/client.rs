//! Twilio's REST API: create a message, and list recent ones to reconcile a
//! send whose outcome we never learned.

use std::time::Duration;

use serde::Deserialize;

use crate::domain::PhoneNumber;
use crate::twilio::error::{ApiErrorBody, TwilioError};

/// Credentials and base URL; the base URL is configurable so tests can point it
/// at a fake server that answers as Twilio's OpenAPI spec says.
#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    api_base: String,
    account_sid: String,
    auth_token: String,
}

/// One outbound SMS as Twilio's `Messages.json` create takes it.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub to: &'a PhoneNumber,
    pub from: &'a PhoneNumber,
    pub body: &'a str,
    pub status_callback: Option<String>,
    pub validity_period: Option<u32>,
}

/// The fields of Twilio's message resource we use.
#[derive(Debug, Clone, Deserialize)]
pub struct MessageResource {
    pub sid: String,
    pub status: Option<String>,
    pub body: Option<String>,
    pub to: Option<String>,
    pub from: Option<String>,
    pub error_code: Option<i64>,
    /// RFC 2822, e.g. `Thu, 30 Jul 2015 20:12:31 +0000`.
    pub date_created: Option<String>,
}

impl MessageResource {
    pub fn created_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let raw = self.date_created.as_deref()?;
        chrono::DateTime::parse_from_rfc2822(raw).ok().map(|d| d.to_utc())
    }
}

#[derive(Deserialize)]
struct MessagePage {
    messages: Vec<MessageResource>,
}

impl TwilioClient {
    pub fn new(api_base: &str, account_sid: &str, auth_token: &str, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Self {
            http,
            api_base: api_base.trim_end_matches('/').to_owned(),
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
        }
    }

    fn messages_url(&self) -> String {
        format!("{}/2010-04-01/Accounts/{}/Messages.json", self.api_base, self.account_sid)
    }

    /// `POST Messages.json`. A timeout or a lost connection after the request
    /// left is reported as [`TwilioError::Unknown`]: the message may exist.
    pub async fn create_message(&self, msg: &NewMessage<'_>) -> Result<MessageResource, TwilioError> {
        let mut form: Vec<(&str, String)> =
            vec![("To", msg.to.to_string()), ("From", msg.from.to_string()), ("Body", msg.body.to_owned())];
        if let Some(cb) = &msg.status_callback {
            form.push(("StatusCallback", cb.clone()));
        }
        if let Some(v) = msg.validity_period {
            form.push(("ValidityPeriod", v.to_string()));
        }
        let resp = self
            .http
            .post(self.messages_url())
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&form)
            .send()
            .await
            .map_err(TwilioError::from_send)?;
        parse_response(resp, true).await
    }

    /// `GET Messages.json?To=…&From=…`: the newest page of messages between two
    /// numbers, used to find out whether a send we lost track of happened.
    pub async fn list_messages(
        &self,
        to: &PhoneNumber,
        from: &PhoneNumber,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<MessageResource>, TwilioError> {
        let day = since.date_naive().pred_opt().unwrap_or(since.date_naive()).to_string();
        let resp = self
            .http
            .get(self.messages_url())
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .query(&[("To", to.as_str()), ("From", from.as_str()), ("DateSent>", day.as_str()), ("PageSize", "50")])
            .send()
            .await
            .map_err(TwilioError::from_read)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(TwilioError::from_read)?;
        if !status.is_success() {
            return Err(TwilioError::from_api(status.as_u16(), &bytes));
        }
        serde_json::from_slice::<MessagePage>(&bytes)
            .map(|p| p.messages)
            .map_err(|e| TwilioError::Transient(format!("unreadable message list: {e}")))
    }
}

async fn parse_response(resp: reqwest::Response, created: bool) -> Result<MessageResource, TwilioError> {
    let status = resp.status();
    let bytes = match resp.bytes().await {
        Ok(b) => b,
        Err(e) if created && status.is_success() => return Err(TwilioError::Unknown(e.to_string())),
        Err(e) => return Err(TwilioError::from_send(e)),
    };
    if !status.is_success() {
        return Err(TwilioError::from_api(status.as_u16(), &bytes));
    }
    serde_json::from_slice::<MessageResource>(&bytes)
        .map_err(|e| TwilioError::Unknown(format!("accepted but unreadable response: {e}")))
}

impl TwilioError {
    fn from_api(status: u16, body: &[u8]) -> Self {
        let parsed: Option<ApiErrorBody> = serde_json::from_slice(body).ok();
        let (code, message) = match parsed {
            Some(b) => (b.code, b.message.unwrap_or_default()),
            None => (None, String::from_utf8_lossy(body).chars().take(200).collect()),
        };
        TwilioError::classify(status, code, message)
    }

    /// A request that may have reached Twilio: only a connect failure proves it did not.
    fn from_send(e: reqwest::Error) -> Self {
        if e.is_connect() {
            TwilioError::Transient(format!("could not reach Twilio: {e}"))
        } else {
            TwilioError::Unknown(format!("no answer from Twilio: {e}"))
        }
    }

    fn from_read(e: reqwest::Error) -> Self {
        TwilioError::Transient(format!("Twilio read failed: {e}"))
    }
}
