//! A minimal MySQL/MariaDB client over the sandbox's TCP: the handshake
//! (TLS asked for with `SSLRequest` before the login, `mysql_native_password`
//! and `caching_sha2_password`, switching plugins when the server asks) and
//! text queries. Packets are `mysql_common`'s types; only the 4-byte packet
//! header is read here.

use mysql_common::constants::{CapabilityFlags, UTF8MB4_GENERAL_CI};
use mysql_common::io::ParseBuf;
use mysql_common::packets::{
    AuthMoreData, AuthPlugin, AuthSwitchRequest, ErrPacket, HandshakePacket, HandshakeResponse, SslRequest,
};
use mysql_common::proto::MySerialize;
use rekey_sdk::tcp::TcpStream;
use std::io::{Read, Write};

/// The largest packet this client sends or accepts.
const MAX_PACKET: u32 = 16 << 20;

/// Why talking to the server failed.
#[derive(Debug)]
pub enum MyError {
    /// The connection could not be made or broke, or the server spoke
    /// something else.
    Network(String),
    /// The server would not speak TLS, or its certificate failed.
    Tls(String),
    /// The server answered with an error.
    Server {
        /// The error number, e.g. 1045 (access denied).
        code: u16,
        /// The server's message.
        message: String,
    },
}

impl MyError {
    /// Whether the server refused the user or its password.
    pub fn is_access_denied(&self) -> bool {
        matches!(self, Self::Server { code: 1045 | 1044 | 1698 | 4151, .. })
    }
}

impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Network(m) | Self::Tls(m) => f.write_str(m),
            Self::Server { code, message } => write!(f, "{message} (error {code})"),
        }
    }
}

fn io(error: std::io::Error) -> MyError {
    MyError::Network(format!("the connection to the server failed: {error}"))
}

fn malformed(error: std::io::Error) -> MyError {
    MyError::Network(format!("the server sent a packet this client cannot read: {error}"))
}

/// One row of a result: its columns, `None` for NULL.
pub type Row = Vec<Option<String>>;

/// An authenticated session.
pub struct Session {
    stream: TcpStream,
    sequence: u8,
    capabilities: CapabilityFlags,
    /// The server's version text (`10.11.6-MariaDB-…`, `8.0.36`).
    pub version: String,
}

impl Session {
    /// Connects to `address`, in TLS verified as `tls` when given, and logs
    /// in as `user` with `password`.
    pub fn open(address: &str, tls: Option<&str>, user: &str, password: &str) -> Result<Self, MyError> {
        let stream = TcpStream::connect(address).map_err(|e| MyError::Network(e.to_string()))?;
        let mut session = Self { stream, sequence: 0, capabilities: CapabilityFlags::empty(), version: String::new() };
        let greeting = session.receive()?;
        if greeting.first() == Some(&0xff) {
            return Err(session.error(&greeting));
        }
        let handshake: HandshakePacket = ParseBuf(&greeting).parse(()).map_err(malformed)?;
        session.version = String::from_utf8_lossy(handshake.server_version_ref()).into_owned();
        let wanted = CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_PLUGIN_AUTH
            | CapabilityFlags::CLIENT_LONG_PASSWORD
            | CapabilityFlags::CLIENT_TRANSACTIONS
            | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
        session.capabilities = wanted & handshake.capabilities();
        if let Some(name) = tls {
            if !handshake.capabilities().contains(CapabilityFlags::CLIENT_SSL) {
                return Err(MyError::Tls(
                    "the server does not accept TLS connections (no ssl_cert configured); configure TLS on it, or set ssl-mode = \"disabled\" to send the login in clear"
                        .into(),
                ));
            }
            session.capabilities |= CapabilityFlags::CLIENT_SSL;
            let mut out = Vec::new();
            SslRequest::new(session.capabilities, MAX_PACKET, UTF8MB4_GENERAL_CI as u8).serialize(&mut out);
            session.send(&out)?;
            session.stream.start_tls(name).map_err(|e| MyError::Tls(e.to_string()))?;
        }
        let plugin = handshake.auth_plugin().unwrap_or(AuthPlugin::MysqlNativePassword).into_owned();
        let nonce = handshake.nonce();
        let data = plugin.gen_data(Some(password), &nonce).map(|d| {
            let mut bytes = Vec::new();
            d.serialize(&mut bytes);
            bytes
        });
        let version = handshake.server_version_parsed().unwrap_or((5, 7, 0));
        let response = HandshakeResponse::new(
            data,
            version,
            Some(user.as_bytes()),
            None::<&[u8]>,
            Some(plugin.clone()),
            session.capabilities,
            None,
            MAX_PACKET,
        );
        let mut out = Vec::new();
        response.serialize(&mut out);
        session.send(&out)?;
        session.authenticate(plugin, nonce, password, tls.is_some())?;
        Ok(session)
    }

    /// Answers the server until it accepts or refuses the login.
    fn authenticate(
        &mut self,
        mut plugin: AuthPlugin<'static>,
        mut nonce: Vec<u8>,
        password: &str,
        over_tls: bool,
    ) -> Result<(), MyError> {
        loop {
            let packet = self.receive()?;
            match packet.first() {
                Some(0x00) => return Ok(()),
                Some(0xff) => return Err(self.error(&packet)),
                Some(0xfe) => {
                    let switch: AuthSwitchRequest = ParseBuf(&packet).parse(()).map_err(malformed)?;
                    plugin = switch.auth_plugin().into_owned();
                    nonce = switch.plugin_data().to_vec();
                    let mut out = Vec::new();
                    if let Some(data) = plugin.gen_data(Some(password), &nonce) {
                        data.serialize(&mut out);
                    }
                    self.send(&out)?;
                }
                Some(0x01) => {
                    let more: AuthMoreData = ParseBuf(&packet).parse(()).map_err(malformed)?;
                    match (&plugin, more.data()) {
                        // caching_sha2_password: the fast path succeeded; an OK follows.
                        (AuthPlugin::CachingSha2Password, [3]) => {}
                        // Full authentication: the password itself, over TLS only…
                        (AuthPlugin::CachingSha2Password, [4]) if over_tls => {
                            let mut out = password.as_bytes().to_vec();
                            out.push(0);
                            self.send(&out)?;
                        }
                        // …or encrypted with the server's RSA key, asked for first.
                        (AuthPlugin::CachingSha2Password, [4]) => self.send(&[2])?,
                        (AuthPlugin::CachingSha2Password, key) => {
                            let mut scrambled = password.as_bytes().to_vec();
                            scrambled.push(0);
                            for (byte, salt) in scrambled.iter_mut().zip(nonce.iter().cycle()) {
                                *byte ^= salt;
                            }
                            self.send(&mysql_common::crypto::encrypt(&scrambled, key))?;
                        }
                        _ => return Err(MyError::Network("the server sent authentication data out of turn".into())),
                    }
                }
                _ => return Err(MyError::Network("the server answered the login with an unknown packet".into())),
            }
        }
    }

    /// Runs `sql` (one statement) and returns its rows (none for a
    /// statement that makes no result set).
    pub fn query(&mut self, sql: &str) -> Result<Vec<Row>, MyError> {
        self.sequence = 0;
        let mut out = vec![0x03];
        out.extend(sql.as_bytes());
        self.send(&out)?;
        let first = self.receive()?;
        match first.first() {
            Some(0x00) => return Ok(vec![]),
            Some(0xff) => return Err(self.error(&first)),
            _ => {}
        }
        let columns = ParseBuf(&first)
            .checked_eat_lenenc_int()
            .ok_or_else(|| MyError::Network("the server's result set has no column count".into()))?;
        for _ in 0..columns {
            self.receive()?;
        }
        self.end_of_part()?;
        let mut rows = Vec::new();
        loop {
            let packet = self.receive()?;
            match packet.first() {
                Some(0xfe) if packet.len() < 9 => return Ok(rows),
                Some(0xff) => return Err(self.error(&packet)),
                _ => {}
            }
            let mut buf = ParseBuf(&packet);
            let mut row = Vec::with_capacity(columns as usize);
            for _ in 0..columns {
                if buf.0.first() == Some(&0xfb) {
                    buf.skip(1);
                    row.push(None);
                } else {
                    let value = buf
                        .checked_eat_lenenc_str()
                        .ok_or_else(|| MyError::Network("a row of the server's result set is cut short".into()))?;
                    row.push(Some(String::from_utf8_lossy(value).into_owned()));
                }
            }
            rows.push(row);
        }
    }

    /// The EOF packet after the column definitions.
    fn end_of_part(&mut self) -> Result<(), MyError> {
        let packet = self.receive()?;
        match packet.first() {
            Some(0xfe) => Ok(()),
            Some(0xff) => Err(self.error(&packet)),
            _ => Err(MyError::Network("the server's result set has no end of its columns".into())),
        }
    }

    fn error(&self, packet: &[u8]) -> MyError {
        match ParseBuf(packet).parse::<ErrPacket>(self.capabilities) {
            Ok(ErrPacket::Error(e)) => MyError::Server { code: e.error_code(), message: e.message_str().into_owned() },
            _ => MyError::Network("the server sent an error this client cannot read".into()),
        }
    }

    fn send(&mut self, payload: &[u8]) -> Result<(), MyError> {
        let length = payload.len() as u32;
        let mut packet = length.to_le_bytes()[..3].to_vec();
        packet.push(self.sequence);
        packet.extend(payload);
        self.sequence = self.sequence.wrapping_add(1);
        self.stream.write_all(&packet).and_then(|()| self.stream.flush()).map_err(io)
    }

    fn receive(&mut self) -> Result<Vec<u8>, MyError> {
        let mut header = [0u8; 4];
        self.stream.read_exact(&mut header).map_err(io)?;
        let length = u32::from_le_bytes([header[0], header[1], header[2], 0]);
        if length > MAX_PACKET {
            return Err(MyError::Network(format!("the server sent a packet of {length} bytes")));
        }
        self.sequence = header[3].wrapping_add(1);
        let mut payload = vec![0u8; length as usize];
        self.stream.read_exact(&mut payload).map_err(io)?;
        Ok(payload)
    }
}
