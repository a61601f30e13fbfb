"""Accounts' error codes: the ``code`` of every :class:`flexplatform.errors.ApplicationError` accounts raises
(the API's ``{"code": ...}``). Code that branches on a refusal compares with these members, never with a string
literal. A ``StrEnum``: each member is its string, so the API body is unchanged."""

from __future__ import annotations

from enum import StrEnum


class AccountsError(StrEnum):
    INVALID_STATE = "invalid_state"  # the consent, enrolment or case is not in a status this change leaves from
    # Consents and enrolments
    CONSENT_EXISTS = "consent_exists"
    NO_CONSENT = "no_consent"
    DOUBLE_PARTICIPATION = "double_participation"
    NOT_ELIGIBLE = "not_eligible"
    # KYC/KYB verification
    CASE_OPEN = "case_open"
    # Authentication
    MFA_SETUP_REQUIRED = "mfa_setup_required"
    MFA_REQUIRED = "mfa_required"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED_OUT = "locked_out"  # too many failed sign-ins for the account or the address (accounts/lockout.py)
    TOKEN_NOT_FOUND = "token_not_found"  # noqa: S105 - an error code, not a secret
    # Wallets (EIP-4361 sign-in with Ethereum)
    SIWE_UNKNOWN = "siwe_unknown"
    SIWE_REPLAYED = "siwe_replayed"
    SIWE_EXPIRED = "siwe_expired"
    SIWE_DOMAIN = "siwe_domain"
    SIWE_SIGNATURE = "siwe_signature"
    WALLET_TAKEN = "wallet_taken"
    # Devices
    INVALID_DEVICE = "invalid_device"
