//! Commands to Redis that bypass the adapters under test: to see what they stored (`PTTL`,
//! a value they did not write) and to let time pass for the keys they hold.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail by panicking at the step that broke"
)]

use chrono::TimeDelta;
use tokio::{
    io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader},
    net::TcpStream,
};

/// One command to the Redis at `url` (`redis://host:port`, as `./scripts/test` gives it) on a
/// connection of its own, sent as RESP by hand; the first line of the reply (`+OK`, `:42`,
/// `$-1`). A Redis error fails the test.
pub async fn raw_redis_command(url: &str, args: &[&str]) -> String {
    let address = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap();
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request: String = std::iter::once(format!("*{}\r\n", args.len()))
        .chain(
            args.iter()
                .map(|arg| format!("${}\r\n{arg}\r\n", arg.len())),
        )
        .collect();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).await.unwrap();
    assert!(
        reply.len() > 2 && !reply.starts_with('-'),
        "Redis refused {:?}: {reply:?}",
        args.first()
    );
    reply.trim_end().to_owned()
}

/// Takes `ARGV[2]` ms off the time to live of every key matching `ARGV[1]`, deleting those
/// whose time is up; a key without a time to live is an error (the adapter must set one).
const LET_TIME_PASS: &str = "
local by = tonumber(ARGV[2])
for _, key in ipairs(redis.call('KEYS', ARGV[1])) do
  local left = redis.call('PTTL', key)
  if left < 0 then
    return redis.error_reply('no time to live on ' .. key)
  elseif left <= by then
    redis.call('DEL', key)
  else
    redis.call('PEXPIRE', key, left - by)
  end
end
return 0
";

/// Makes `by` pass, as Redis's clock would, for every key under `prefix` in the Redis at
/// `url`: what is checked is the expiry the adapter asked Redis for, counted by Redis.
pub async fn let_redis_time_pass(url: &str, prefix: &str, by: TimeDelta) {
    let pattern = format!("{prefix}*");
    let by = by.num_milliseconds().to_string();
    raw_redis_command(url, &["EVAL", LET_TIME_PASS, "0", &pattern, &by]).await;
}
