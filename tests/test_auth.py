"""Signing up with allauth: the address is verified by email before the first login."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

EMAIL = "new.member@example.org"
PASSWORD = "a-Long-enough-passphrase-2026"


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db
def test_sign_up_verify_email_then_log_in():
    client = Client()
    signup = client.post("/accounts/signup/", {"email": EMAIL, "password1": PASSWORD, "password2": PASSWORD})
    assert signup.status_code == 302, signup.content
    assert signup["Location"] == "/accounts/confirm-email/"
    assert get_user_model().objects.filter(email=EMAIL).exists()
    assert not _logged_in(client)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [EMAIL]
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^/\s]+/)", message.body)
    assert link, message.body

    # Not yet: logging in before the address is confirmed leads to the "verify your email" notice.
    early = client.post("/accounts/login/", {"login": EMAIL, "password": PASSWORD})
    assert early.status_code == 302
    assert early["Location"] == "/accounts/confirm-email/"
    assert not _logged_in(client)
    assert not EmailAddress.objects.get(email=EMAIL).verified

    # Following the link and confirming verifies the address.
    page = client.get(link.group(1))
    assert page.status_code == 200
    assert EMAIL in page.content.decode()
    confirmed = client.post(link.group(1))
    assert confirmed.status_code == 302
    assert EmailAddress.objects.get(email=EMAIL).verified

    client.logout()
    login = client.post("/accounts/login/", {"login": EMAIL, "password": PASSWORD})
    assert login.status_code == 302
    assert _logged_in(client)
    home = client.get(login["Location"], follow=True)  # a newcomer with no organisation goes into the wizard (#15)
    assert home.status_code == 200 and home.redirect_chain[-1][0].startswith("/onboarding/")
    assert EMAIL in home.content.decode()


@pytest.mark.django_db
def test_wrong_password_is_refused_on_the_login_page():
    client = Client()
    client.post("/accounts/signup/", {"email": EMAIL, "password1": PASSWORD, "password2": PASSWORD})
    EmailAddress.objects.filter(email=EMAIL).update(verified=True)
    response = client.post("/accounts/login/", {"login": EMAIL, "password": "not-the-password"})
    assert response.status_code == 200  # the form again, with an error
    assert not _logged_in(client)
    assert response.context["form"].errors
