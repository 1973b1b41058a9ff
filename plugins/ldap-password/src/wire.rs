//! A minimal LDAP v3 client over the sandbox's TCP, always in TLS (LDAPS
//! from the first byte, or StartTLS): simple bind and the Password Modify
//! extended operation (RFC 3062). Messages are `rasn-ldap`'s types, BER
//! encoded by `rasn`; only the outer TLV is read here, to know where a
//! message ends.

use rasn::prelude::*;
use rasn_ldap::{
    AuthenticationChoice, BindRequest, ExtendedRequest, LdapMessage, ProtocolOp, ResultCode, UnbindRequest,
};
use rekey_sdk::tcp::TcpStream;
use std::io::{Read, Write};

/// The OID of StartTLS (RFC 4511, 4.14).
const START_TLS: &str = "1.3.6.1.4.1.1466.20037";
/// The OID of Password Modify (RFC 3062).
const PASSWORD_MODIFY: &str = "1.3.6.1.4.1.4203.1.11.1";
/// Most bytes read for one message.
const MAX_MESSAGE: usize = 1 << 20;

/// How the connection is encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`ldaps://`, port 636).
    Ldaps,
    /// StartTLS on a plain LDAP port (389), before anything else is sent.
    StartTls,
}

/// Why talking to the directory failed.
#[derive(Debug)]
pub enum LdapError {
    /// The connection could not be made, broke, or TLS failed.
    Network(String),
    /// The server would not speak TLS, or its certificate failed.
    Tls(String),
    /// The server answered with a result code other than success.
    Result {
        /// The result code (49 is invalid credentials).
        code: ResultCode,
        /// The server's diagnostic message.
        message: String,
    },
}

impl std::fmt::Display for LdapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Network(m) | Self::Tls(m) => f.write_str(m),
            Self::Result { code, message } if message.is_empty() => write!(f, "{code:?}"),
            Self::Result { code, message } => write!(f, "{code:?}: {message}"),
        }
    }
}

fn io(error: std::io::Error) -> LdapError {
    LdapError::Network(format!("the connection to the directory failed: {error}"))
}

/// An open connection.
pub struct Connection {
    stream: TcpStream,
    next_id: u32,
}

impl Connection {
    /// Connects to `address` and secures it as `security` says, the server
    /// verified by the host as `name`.
    pub fn open(address: &str, security: Security, name: &str) -> Result<Self, LdapError> {
        let stream = TcpStream::connect(address).map_err(|e| LdapError::Network(e.to_string()))?;
        let mut connection = Self { stream, next_id: 1 };
        if security == Security::StartTls {
            let request = ExtendedRequest { request_name: START_TLS.as_bytes().to_vec().into(), request_value: None };
            connection.call(ProtocolOp::ExtendedReq(request)).map_err(|e| match e {
                LdapError::Result { message, .. } => LdapError::Tls(format!(
                    "the directory refused StartTLS ({message}); configure TLS on it, or use `security = \"ldaps\"` on its LDAPS port"
                )),
                other => other,
            })?;
        }
        connection.stream.start_tls(name).map_err(|e| LdapError::Tls(e.to_string()))?;
        Ok(connection)
    }

    /// A simple bind as `dn` with `password`.
    pub fn bind(&mut self, dn: &str, password: &str) -> Result<(), LdapError> {
        let authentication = AuthenticationChoice::Simple(password.as_bytes().to_vec().into());
        self.call(ProtocolOp::BindRequest(BindRequest::new(3, dn.into(), authentication)))
    }

    /// Sets the password of `dn` to `new` (Password Modify, as the bound user).
    pub fn modify_password(&mut self, dn: &str, new: &str) -> Result<(), LdapError> {
        let value = PasswordModify {
            user_identity: Some(dn.as_bytes().to_vec().into()),
            old_password: None,
            new_password: Some(new.as_bytes().to_vec().into()),
        };
        let value = rasn::ber::encode(&value).map_err(|e| LdapError::Network(e.to_string()))?;
        let request = ExtendedRequest {
            request_name: PASSWORD_MODIFY.as_bytes().to_vec().into(),
            request_value: Some(value.into()),
        };
        self.call(ProtocolOp::ExtendedReq(request))
    }

    /// Sends `op` and reads its result.
    fn call(&mut self, op: ProtocolOp) -> Result<(), LdapError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(LdapMessage::new(id, op))?;
        let reply = self.receive()?;
        if reply.message_id != id {
            return Err(LdapError::Network(format!("the directory answered message {} for {id}", reply.message_id)));
        }
        let (code, message) = match reply.protocol_op {
            ProtocolOp::BindResponse(r) => (r.result_code, r.diagnostic_message),
            ProtocolOp::ExtendedResp(r) => (r.result_code, r.diagnostic_message),
            other => return Err(LdapError::Network(format!("unexpected answer from the directory: {other:?}"))),
        };
        match code {
            ResultCode::Success => Ok(()),
            code => Err(LdapError::Result { code, message: message.0 }),
        }
    }

    fn send(&mut self, message: LdapMessage) -> Result<(), LdapError> {
        let bytes = rasn::ber::encode(&message).map_err(|e| LdapError::Network(e.to_string()))?;
        self.stream.write_all(&bytes).and_then(|()| self.stream.flush()).map_err(io)
    }

    /// One whole message: its tag, its length (short or long form), then
    /// that many bytes.
    fn receive(&mut self) -> Result<LdapMessage, LdapError> {
        let mut head = [0u8; 2];
        self.stream.read_exact(&mut head).map_err(io)?;
        let mut bytes = head.to_vec();
        let length = if head[1] & 0x80 == 0 {
            usize::from(head[1])
        } else {
            let count = usize::from(head[1] & 0x7f);
            if count == 0 || count > 4 {
                return Err(LdapError::Network("the directory sent a message of unsupported length".into()));
            }
            let mut length = vec![0u8; count];
            self.stream.read_exact(&mut length).map_err(io)?;
            bytes.extend(&length);
            length.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b))
        };
        if length > MAX_MESSAGE {
            return Err(LdapError::Network(format!("the directory sent a message of {length} bytes")));
        }
        let start = bytes.len();
        bytes.resize(start + length, 0);
        self.stream.read_exact(&mut bytes[start..]).map_err(io)?;
        rasn::ber::decode(&bytes).map_err(|e| LdapError::Network(format!("cannot read the directory's answer: {e}")))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let id = self.next_id;
        let _ = self.send(LdapMessage::new(id, ProtocolOp::UnbindRequest(UnbindRequest)));
    }
}

/// `PasswdModifyRequestValue` (RFC 3062, section 2).
#[derive(AsnType, Encode, Decode, Debug)]
struct PasswordModify {
    #[rasn(tag(context, 0))]
    user_identity: Option<OctetString>,
    #[rasn(tag(context, 1))]
    old_password: Option<OctetString>,
    #[rasn(tag(context, 2))]
    new_password: Option<OctetString>,
}

/// Whether the directory refused a bind's name or password (result 49).
pub fn is_invalid_credentials(error: &LdapError) -> bool {
    matches!(error, LdapError::Result { code: ResultCode::InvalidCredentials, .. })
}
