//! Builders for the config schema a plugin declares in `info`.

use crate::{ConfigField, FieldType};

impl ConfigField {
    /// An optional, non-secret field with no default.
    pub fn new(name: &str, field_type: FieldType, help: &str) -> Self {
        Self {
            name: name.into(),
            field_type,
            required: false,
            secret: false,
            placeholder: false,
            default_value: None,
            help: help.into(),
        }
    }

    /// Marks the field as required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Marks the field as an admin secret: the host resolves it from a secret
    /// source and passes it in `admin-secrets`. Secret fields are required.
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self.required = true;
        self
    }

    /// Marks the field as an admin secret the plugin never sees: it receives
    /// `{{secret:NAME}}` and puts it where the secret goes in an HTTP request;
    /// the host substitutes the value on the way out, only to granted hosts.
    /// For tokens sent as they are, not for keys the plugin computes with.
    pub fn placeholder(mut self) -> Self {
        self.placeholder = true;
        self.secret()
    }

    /// Sets the value used when the operator gives none.
    pub fn default_value(mut self, value: &str) -> Self {
        self.default_value = Some(value.into());
        self
    }
}
