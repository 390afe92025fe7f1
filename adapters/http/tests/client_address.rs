//! The layer computes the client address from the peer and `X-Forwarded-For` as
//! `server.trusted_proxies` says, over a real TCP connection.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the step that broke"
)]

use std::{net::SocketAddr, sync::Arc, time::Duration};

use poem::{
    Route, Server,
    listener::{Acceptor as _, Listener as _, TcpListener},
    web::Data,
};
use poem_openapi::{OpenApi, OpenApiService, payload::PlainText};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use twofa_http::{HttpSettings, RequestContext, with_layer};
use twofa_memory::SeededSecretGenerator;

struct WhoAmI;

#[OpenApi]
impl WhoAmI {
    #[oai(path = "/api/whoami", method = "get", operation_id = "whoami")]
    async fn whoami(&self, context: Data<&RequestContext>) -> PlainText<String> {
        PlainText(
            context
                .client_ip
                .map(|ip| ip.to_string())
                .unwrap_or_default(),
        )
    }
}

async fn serve(trusted_proxies: &[&str]) -> SocketAddr {
    let settings = HttpSettings {
        body_limit: 1024,
        max_headers: 100,
        max_header_bytes: 16384,
        request_timeout: Duration::from_secs(5),
        trusted_proxies: trusted_proxies.iter().map(|n| n.parse().unwrap()).collect(),
        cors_origins: Vec::new(),
        is_https: false,
    };
    let routes = Route::new().nest("/", OpenApiService::new(WhoAmI, "test", "1"));
    let endpoint = with_layer(routes, &settings, Arc::new(SeededSecretGenerator::new(1)));
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let address = *acceptor.local_addr()[0].as_socket_addr().unwrap();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(endpoint));
    address
}

/// The client address the server saw, sending `forwarded` as `X-Forwarded-For`.
async fn seen(address: SocketAddr, forwarded: Option<&str>) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let header = forwarded
        .map(|f| format!("X-Forwarded-For: {f}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET /api/whoami HTTP/1.1\r\nHost: x\r\n{header}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response.rsplit("\r\n\r\n").next().unwrap().to_owned()
}

#[tokio::test]
async fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
    let address = serve(&[]).await;
    assert_eq!(seen(address, Some("203.0.113.9")).await, "127.0.0.1");
    assert_eq!(seen(address, None).await, "127.0.0.1");
}

#[tokio::test]
async fn a_trusted_proxy_forwards_the_client() {
    let address = serve(&["127.0.0.1/32"]).await;
    assert_eq!(seen(address, Some("203.0.113.9")).await, "203.0.113.9");
    assert_eq!(
        seen(address, Some("198.51.100.1, 203.0.113.9")).await,
        "203.0.113.9"
    );
    assert_eq!(seen(address, Some("not an address")).await, "127.0.0.1");
}

#[tokio::test]
async fn an_unparsable_entry_left_of_the_client_does_not_make_the_proxy_the_client() {
    let address = serve(&["127.0.0.1/32"]).await;
    assert_eq!(
        seen(address, Some("junk, 198.51.100.7")).await,
        "198.51.100.7"
    );
    assert_eq!(
        seen(address, Some("198.51.100.7:4711")).await,
        "198.51.100.7"
    );
    assert_eq!(
        seen(address, Some("[2001:db8::7]:443")).await,
        "2001:db8::7"
    );
    // The client's own entry unparsable: the last trusted hop, here the peer.
    assert_eq!(seen(address, Some("010.0.0.1")).await, "127.0.0.1");
    assert_eq!(
        seen(address, Some("198.51.100.7, 127.0.0.1:80, junk")).await,
        "127.0.0.1"
    );
}
