//! Plain HTTP/1.1 with no proxy, on hyper's pooled client directly.
//!
//! reqwest wraps hyper in layers petro does not use for such requests: a
//! redirect layer (petro follows redirects itself) that re-parses every
//! request's URI into a `Url` even when it follows none, a response URL parsed
//! again from the request URI, a retry layer, and copies of the headers kept
//! for those. The two URL parses alone were ~15% of the instructions petro
//! spent per request on a nearby server (callgrind, in `benchmarks/README.md`).
//! This transport keeps what matters and nothing else:
//! - hyper-util's connection pool (idle connections closed after 90 s) and
//!   connector (TCP_NODELAY, keep-alive probes and a connect timeout, as
//!   reqwest sets them);
//! - tower-http's decompression (gzip, deflate, brotli, zstd), the layer
//!   reqwest itself uses;
//! - the read timeout as requests means it: the wait for the response head,
//!   then the wait for each piece of the body.
//!
//! TLS and proxies stay on reqwest (`session.rs` picks the transport).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method};
use http_body::Body as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::time::{Instant, Sleep};
use tower_http::decompression::{Decompression, DecompressionBody};
use tower_service::Service;
use url::Url;

use super::request::Timeouts;

type Hyper = Client<HttpConnector, Full<Bytes>>;

/// A pooled plain-HTTP/1.1 client.
#[derive(Clone)]
pub(crate) struct Direct {
    svc: Decompression<Hyper>,
    read: Option<Duration>,
}

/// The read timeout of one response: its timer and how far each wait may go.
struct Deadline {
    timer: Pin<Box<Sleep>>,
    read: Duration,
}

/// Why a request got no response head.
#[derive(Debug)]
pub(crate) enum SendFailure {
    /// The read timeout passed before the head arrived.
    Timeout,
    /// The URL is not one an HTTP/1.1 request line can carry.
    Uri(http::Error),
    /// Connecting or exchanging failed (hyper-util's error).
    Hyper(hyper_util::client::legacy::Error),
}

/// Why a body could not be read to its end.
#[derive(Debug)]
pub(crate) enum BodyFailure {
    Timeout,
    /// The connection failed (a `hyper::Error`) or a decoder did.
    Read(tower_http::BoxError),
}

impl Direct {
    pub(crate) fn new(timeouts: Timeouts) -> Direct {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(timeouts.connect);
        // reqwest's defaults.
        http.set_keepalive(Some(Duration::from_secs(15)));
        http.set_keepalive_interval(Some(Duration::from_secs(15)));
        http.set_keepalive_retries(Some(3));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .http1_title_case_headers(true)
            .build(http);
        Direct {
            svc: Decompression::new(client),
            read: timeouts.read,
        }
    }

    /// Send one request and wait for the response head. The body stays on the
    /// connection until [`DirectBody::chunk`] reads it.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: Option<Bytes>,
    ) -> Result<(http::response::Parts, DirectBody), SendFailure> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(url.as_str())
            .body(Full::new(body.unwrap_or_default()))
            .map_err(SendFailure::Uri)?;
        *request.headers_mut() = headers;
        // hyper-util's client is always ready; tower-http's layer asks it.
        let mut svc = self.svc.clone();
        let response = svc.call(request);
        let mut deadline = self.read.map(|read| Deadline {
            timer: Box::pin(tokio::time::sleep(read)),
            read,
        });
        let response = match deadline.as_mut() {
            None => response.await,
            Some(d) => match first(response, d.timer.as_mut()).await {
                Some(r) => r,
                None => return Err(SendFailure::Timeout),
            },
        }
        .map_err(SendFailure::Hyper)?;
        let (parts, body) = response.into_parts();
        Ok((
            parts,
            DirectBody {
                body: Box::pin(body),
                deadline,
            },
        ))
    }
}

/// A response body still on the connection.
pub(crate) struct DirectBody {
    body: Pin<Box<DecompressionBody<Incoming>>>,
    /// The head's read-timeout timer, re-armed for each piece of the body.
    deadline: Option<Deadline>,
}

impl std::fmt::Debug for DirectBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectBody").finish_non_exhaustive()
    }
}

impl DirectBody {
    /// The body's length when the server announced it (and it is not compressed).
    pub(crate) fn content_length(&self) -> Option<u64> {
        self.body.size_hint().exact()
    }

    /// The next piece of the body, or None at its end.
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>, BodyFailure> {
        loop {
            let frame = match self.deadline.as_mut() {
                Some(d) => {
                    d.timer.as_mut().reset(Instant::now() + d.read);
                    match first(self.body.frame(), d.timer.as_mut()).await {
                        Some(f) => f,
                        None => return Err(BodyFailure::Timeout),
                    }
                }
                None => self.body.frame().await,
            };
            match frame {
                None => return Ok(None),
                Some(Err(e)) => return Err(BodyFailure::Read(e)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            return Ok(Some(data));
                        }
                    }
                    // Trailers and empty pieces: read on.
                }
            }
        }
    }
}

/// `fut`'s output, or None when `timer` fires first.
async fn first<F: Future>(fut: F, timer: Pin<&mut Sleep>) -> Option<F::Output> {
    tokio::select! {
        biased;
        out = fut => Some(out),
        _ = timer => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// A server that answers each connection's first request with `reply`
    /// after `delay`, then holds the connection open.
    async fn serve(reply: &'static [u8], delay: Duration) -> Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut sock, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    tokio::time::sleep(delay).await;
                    let _ = sock.write_all(reply).await;
                    tokio::time::sleep(Duration::from_secs(600)).await;
                });
            }
        });
        Url::parse(&format!("http://{addr}/x")).unwrap()
    }

    fn timeouts(read_ms: u64) -> Timeouts {
        Timeouts {
            connect: Some(Duration::from_secs(5)),
            read: Some(Duration::from_millis(read_ms)),
        }
    }

    #[test]
    fn reads_a_head_and_a_body() {
        rt().block_on(async {
            let url = serve(
                b"HTTP/1.1 201 Made\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello",
                Duration::ZERO,
            )
            .await;
            let d = Direct::new(timeouts(5_000));
            let (head, mut body) = d
                .send(Method::GET, &url, HeaderMap::new(), None)
                .await
                .unwrap();
            assert_eq!(head.status, 201);
            assert_eq!(head.headers["x-a"], "1");
            assert_eq!(body.content_length(), Some(5));
            assert_eq!(body.chunk().await.unwrap().unwrap(), "hello");
            assert!(body.chunk().await.unwrap().is_none());
        });
    }

    #[test]
    fn a_slow_head_and_a_stalled_body_time_out() {
        rt().block_on(async {
            let slow = serve(b"HTTP/1.1 200 OK\r\n\r\n", Duration::from_secs(5)).await;
            let d = Direct::new(timeouts(100));
            let err = d
                .send(Method::GET, &slow, HeaderMap::new(), None)
                .await
                .unwrap_err();
            assert!(matches!(err, SendFailure::Timeout), "{err:?}");

            // The head arrives, then 3 of 10 bytes, then nothing.
            let stalled = serve(
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                Duration::ZERO,
            )
            .await;
            let (_, mut body) = d
                .send(Method::GET, &stalled, HeaderMap::new(), None)
                .await
                .unwrap();
            assert_eq!(body.chunk().await.unwrap().unwrap(), "abc");
            assert!(matches!(body.chunk().await, Err(BodyFailure::Timeout)));
        });
    }

    #[test]
    fn a_refused_connection_is_a_connect_error() {
        rt().block_on(async {
            // Bind, then close: nothing listens on the port.
            let port = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap().port()
            };
            let url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
            let err = Direct::new(timeouts(1_000))
                .send(Method::GET, &url, HeaderMap::new(), None)
                .await
                .unwrap_err();
            match err {
                SendFailure::Hyper(e) => assert!(e.is_connect(), "{e:?}"),
                other => panic!("{other:?}"),
            }
        });
    }
}
