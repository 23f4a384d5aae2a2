"""Keep AWS credentials out of every log record the AWS SDKs write.

botocore logs request headers and canonical requests at DEBUG, the `x-amz-security-token` header among
them, and an STS or SSO response body carries a secret key. featurekit's own logs never hold a credential;
this filter is added to the SDK's loggers (botocore, boto3, urllib3, s3transfer, PyAthena) when featurekit
creates an AWS client, and rewrites each record before any handler sees it.
"""

from __future__ import annotations

import logging
import re

#: Loggers whose records may carry credentials: the AWS SDK's and the HTTP stack's under it.
AWS_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer", "pyathena")
REDACTED = "<redacted>"

# A credential-bearing name, then its separator (`: `, `=`, `': b'`, `":"`), then the value up to a delimiter.
_SECRET_FIELD = re.compile(
    r"(?i)(x-amz-security-token|x-amz-credential|aws_secret_access_key|aws_session_token|secretaccesskey|"
    r"secret_access_key|sessiontoken|session_token|accesstoken|access_token|signature)"
    r"""(['"]?\s*[:=]\s*b?['"]?)[^'"\s,&;}\]]+"""
)


def redact(text: str) -> str:
    """`text` with the value of every credential-bearing header, field or query parameter replaced."""
    return _SECRET_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


class CredentialFilter(logging.Filter):
    """Rewrites a record's message with credentials redacted; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot be formatted is left to logging's own error path
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = CredentialFilter()


def install() -> None:
    """Add the filter to every AWS SDK logger that exists now (each SDK module creates its own on import).

    Logger filters apply only to records logged on that very logger, not to its children, so each one
    gets the filter. Cheap and idempotent: called whenever featurekit creates an AWS client.
    """
    names = [n for n in list(logging.root.manager.loggerDict) if n.split(".")[0] in AWS_LOGGERS]
    for name in {*names, *AWS_LOGGERS}:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
