from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "simulator.accounts"
    label = "accounts"
