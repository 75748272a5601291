//! `natop sign`: print the string a signature is computed over and the
//! signature, for exactly the parameters given.

use clap::{Args, Subcommand, ValueEnum};

use crate::cloud::alibaba::signer as alibaba;
use crate::cloud::ucloud::signer as ucloud;
use crate::cloud::wire::Params;

/// Which cloud's signature to compute.
#[derive(Debug, Subcommand)]
pub enum SignCommand {
    /// Alibaba RPC signature 1.0 (HMAC-SHA1): prints StringToSign, then the Signature.
    Alibaba(AlibabaSign),
    /// UCloud signature (SHA-1 hex): prints the hashed string, then the Signature.
    Ucloud(UcloudSign),
}

/// HTTP method of the signed request.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Method {
    /// GET.
    #[value(name = "GET")]
    Get,
    /// POST (what natop and the official SDKs send).
    #[value(name = "POST")]
    Post,
}

/// Arguments of `natop sign alibaba`.
#[derive(Debug, Args)]
pub struct AlibabaSign {
    /// AccessKeySecret to sign with.
    #[arg(long)]
    pub secret: String,
    /// HTTP method of the request.
    #[arg(long, value_enum, default_value = "POST", ignore_case = true)]
    pub method: Method,
    /// Parameters as NAME=VALUE, exactly as sent (none is added).
    #[arg(value_parser = parse_param, value_name = "NAME=VALUE")]
    pub params: Vec<(String, String)>,
}

/// Arguments of `natop sign ucloud`.
#[derive(Debug, Args)]
pub struct UcloudSign {
    /// Private key to sign with.
    #[arg(long)]
    pub private_key: String,
    /// Parameters as NAME=VALUE, exactly as sent, PublicKey included.
    #[arg(value_parser = parse_param, value_name = "NAME=VALUE")]
    pub params: Vec<(String, String)>,
}

/// Split `NAME=VALUE` at the first `=`; the value may be empty or contain `=`.
fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some(("", _)) => Err(format!("{text:?}: the name is empty")),
        Some((name, value)) => Ok((name.to_string(), value.to_string())),
        None => Err(format!("{text:?}: expected NAME=VALUE")),
    }
}

fn to_params(pairs: &[(String, String)]) -> Params {
    pairs.iter().cloned().collect()
}

/// The text `natop sign` prints: the signed string, then the signature alone
/// on the last line.
pub fn render(cmd: &SignCommand) -> String {
    match cmd {
        SignCommand::Alibaba(a) => {
            let method = match a.method {
                Method::Get => "GET",
                Method::Post => "POST",
            };
            let (sts, signature) = alibaba::sign(method, &to_params(&a.params), &a.secret);
            format!("{sts}\n{signature}\n")
        }
        SignCommand::Ucloud(u) => {
            let params = to_params(&u.params);
            let hashed = ucloud::string_to_hash(&params, &u.private_key);
            let signature = ucloud::sign(&params, &u.private_key);
            format!("{hashed}\n{signature}\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_split_at_the_first_equals() {
        assert_eq!(parse_param("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert_eq!(parse_param("A=").unwrap(), ("A".into(), String::new()));
        assert!(parse_param("A").is_err());
        assert!(parse_param("=v").is_err());
    }
}
