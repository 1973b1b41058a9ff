//! Just enough of RESP (the Redis protocol) to send commands and read the
//! replies: simple strings, errors, integers, bulk strings and arrays.

use rekey_sdk::ProviderError;
use rekey_sdk::tcp::TcpStream;
use std::io::{BufRead, BufReader, Read, Write};

/// Largest reply accepted, so a hostile server cannot exhaust memory.
const MAX_BULK: usize = 1 << 20;

/// One reply.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// `+OK`
    Simple(String),
    /// `-ERR …`, `-WRONGPASS …`
    Error(String),
    /// `:1`
    Integer(i64),
    /// `$n` (None for `$-1`)
    Bulk(Option<Vec<u8>>),
    /// `*n` (None for `*-1`)
    Array(Option<Vec<Reply>>),
}

/// A connection to a Redis server.
pub struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    /// Connects to `address` (`ip:port`), in TLS from the first byte
    /// (`rediss`), verified by the host as `tls`, when given.
    pub fn open(address: &str, tls: Option<&str>) -> Result<Self, ProviderError> {
        let mut stream = TcpStream::connect(address).map_err(|e| match e.kind() {
            std::io::ErrorKind::PermissionDenied => {
                ProviderError::Rejected(format!("the sandbox refused the connection: {e}"))
            }
            std::io::ErrorKind::InvalidInput => ProviderError::InvalidConfig(e.to_string()),
            _ => ProviderError::Unavailable(format!("cannot reach Redis at {address}: {e}")),
        })?;
        if let Some(name) = tls {
            stream
                .start_tls(name)
                .map_err(|e| ProviderError::InvalidConfig(format!("no verified TLS connection to Redis: {e}")))?;
        }
        Ok(Self { reader: BufReader::new(stream) })
    }

    /// Sends a command and reads its reply.
    pub fn command(&mut self, args: &[&str]) -> Result<Reply, ProviderError> {
        let mut frame = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            frame.extend(format!("${}\r\n", arg.len()).into_bytes());
            frame.extend(arg.as_bytes());
            frame.extend(b"\r\n");
        }
        self.reader.get_mut().write_all(&frame).map_err(lost)?;
        self.read()
    }

    fn read(&mut self) -> Result<Reply, ProviderError> {
        let mut line = String::new();
        (&mut self.reader).take(MAX_BULK as u64).read_line(&mut line).map_err(lost)?;
        let line = line
            .strip_suffix("\r\n")
            .ok_or_else(|| ProviderError::Unavailable("Redis closed the connection".into()))?;
        let (kind, rest) = line.split_at(1.min(line.len()));
        let number =
            || rest.parse::<i64>().map_err(|_| ProviderError::Rejected(format!("not a Redis reply: {line:?}")));
        Ok(match kind {
            "+" => Reply::Simple(rest.into()),
            "-" => Reply::Error(rest.into()),
            ":" => Reply::Integer(number()?),
            "$" => match number()? {
                -1 => Reply::Bulk(None),
                n if n < 0 || n as usize > MAX_BULK => {
                    return Err(ProviderError::Rejected(format!("bulk reply of {n} bytes")));
                }
                n => {
                    let mut bytes = vec![0; n as usize + 2];
                    self.reader.read_exact(&mut bytes).map_err(lost)?;
                    bytes.truncate(n as usize);
                    Reply::Bulk(Some(bytes))
                }
            },
            "*" => match number()? {
                -1 => Reply::Array(None),
                n if !(0..=4096).contains(&n) => {
                    return Err(ProviderError::Rejected(format!("array reply of {n} items")));
                }
                n => Reply::Array(Some((0..n).map(|_| self.read()).collect::<Result<_, _>>()?)),
            },
            _ => return Err(ProviderError::Rejected(format!("not a Redis reply: {line:?}"))),
        })
    }
}

fn lost(error: std::io::Error) -> ProviderError {
    ProviderError::Unavailable(format!("the connection to Redis failed: {error}"))
}
