"""API tokens: obtain one with email and password (and a TOTP code for operators and admins), list your own,
rotate and revoke them.

The obtain endpoint is guarded twice: DRF throttles per client address and per account (``AUTH_THROTTLE_*``),
and the lockout shared with the portal's sign-in page (``accounts.lockout``): a wrong password or a wrong TOTP
code counts as a failure, and a locked account or address gets no token even with the right password (429).
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from flexplatform.api import list_schema, paginated
from flexplatform.errors import ApplicationError, NotPermitted, TooManyAttempts

from . import lockout, tokens
from .errors import AccountsError
from .mfa import mfa_required, totp_authenticator, totp_verify
from .models import ApiToken


class _AuthThrottle(SimpleRateThrottle):
    """Rates read from settings at request time (``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``)."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AuthIpThrottle(_AuthThrottle):
    scope = "auth_ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AuthAccountThrottle(_AuthThrottle):
    scope = "auth_account"

    def get_cache_key(self, request, view):
        username = lockout.username_of(None, {"username": request.data.get("username", "")}) if request.data else ""
        return self.cache_format % {"scope": self.scope, "ident": username} if username else None


def _locked_out() -> TooManyAttempts:
    return TooManyAttempts(
        "Too many failed sign-in attempts for this account or address; try again later.",
        code=AccountsError.LOCKED_OUT,
    )


class TokenOutputSerializer(serializers.ModelSerializer):
    state = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "revoked_at", "state"]

    def get_state(self, token) -> str:
        return tokens.token_state(token)


class IssuedTokenSerializer(TokenOutputSerializer):
    token = serializers.CharField(help_text="The key: shown this once, send it as 'Authorization: Token <key>'.")

    class Meta(TokenOutputSerializer.Meta):
        fields = ["token", *TokenOutputSerializer.Meta.fields]


def _issued(token: ApiToken, key: str) -> dict:
    token.token = key
    return IssuedTokenSerializer(token).data


class TokenApi(APIView):
    """Exchange a username (the email) and password for a new API token. Grid operators and admins must also send
    ``otp``, a current code of their TOTP authenticator, and get no token before they have set one up."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthIpThrottle, AuthAccountThrottle]

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=254)
        password = serializers.CharField(max_length=4096, trim_whitespace=False)
        otp = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
        name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses=IssuedTokenSerializer)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        http = request._request  # django-axes reads and flags the Django request
        if lockout.is_locked(http, v["username"]):
            raise _locked_out()
        user = authenticate(request=http, username=v["username"], password=v["password"])
        if user is None:
            if getattr(http, "axes_locked_out", False) or lockout.is_locked(http, v["username"]):
                raise _locked_out()
            raise ApplicationError("Unable to sign in with these credentials.", code=AccountsError.BAD_CREDENTIALS)
        if mfa_required(user):
            if totp_authenticator(user) is None:
                raise NotPermitted(
                    "Set up two-factor authentication (TOTP) in the portal first.",
                    code=AccountsError.MFA_SETUP_REQUIRED,
                )
            if not totp_verify(user, v["otp"]):
                lockout.failure_record(http, v["username"])
                if lockout.is_locked(http, v["username"]):
                    raise _locked_out()
                raise NotPermitted(
                    "A current TOTP code is required.",
                    code=AccountsError.MFA_REQUIRED,
                    fields={"otp": ["Invalid or missing."]},
                )
        token, key = tokens.api_token_issue(user=user, name=v["name"] or "api")
        return Response(_issued(token, key))


class TokenListApi(APIView):
    """Your own API tokens (live, expired and revoked); the keys themselves are never shown again."""

    permission_classes = [IsAuthenticated]

    @list_schema(TokenOutputSerializer)
    def get(self, request):
        return paginated(request, tokens.api_tokens_of(request.user).select_related("user"), TokenOutputSerializer)


class TokenRotateApi(APIView):
    """Replace one of your live tokens with a new one (the old one stops working at once)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=IssuedTokenSerializer)
    def post(self, request, pk: int):
        token, key = tokens.api_token_rotate(user=request.user, token_id=pk)
        return Response(_issued(token, key), status=201)


class TokenRevokeApi(APIView):
    """Revoke one of your live tokens."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=TokenOutputSerializer)
    def post(self, request, pk: int):
        return Response(TokenOutputSerializer(tokens.api_token_revoke(user=request.user, token_id=pk)).data)


urlpatterns = [
    path("auth/token/", TokenApi.as_view(), name="token"),
    path("auth/tokens/", TokenListApi.as_view(), name="tokens"),
    path("auth/tokens/<int:pk>/rotate/", TokenRotateApi.as_view(), name="token-rotate"),
    path("auth/tokens/<int:pk>/revoke/", TokenRevokeApi.as_view(), name="token-revoke"),
]
