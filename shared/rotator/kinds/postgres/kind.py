"""The postgres kind: the choice of its path, once per invocation."""

from __future__ import annotations

from rotator.core.strategy import Kind, StepRequest, Strategy
from rotator.errors import PolicyError
from rotator.kinds.postgres.secret import PostgresSecret
from rotator.kinds.postgres.server import PostgresServer
from rotator.kinds.postgres.settings import ENV_POSTGRES_MASTER_SECRET_ARNS, PostgresSettings
from rotator.schemes.passwords import passwords_for
from rotator.settings import Settings, permitted_arn

__all__ = ["KIND", "KIND_CLASS", "PostgresKind"]

KIND = "postgres"


class PostgresKind(Kind[PostgresSecret]):
    """Changes PostgreSQL role passwords; alternates users when a master secret is configured."""

    KIND = KIND
    SECRET = PostgresSecret
    CREDENTIAL_AT_TARGET = True

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        pg = PostgresSettings.from_env(settings.environ)
        self.server = PostgresServer(pg)
        self.passwords = passwords_for(settings.password_policy, pg.password_mac_key_arn)

    def path_for(self, request: StepRequest[PostgresSecret]) -> Strategy[PostgresSecret]:
        pg, passwords = self.server.settings, self.passwords
        master_arn = permitted_arn(
            request.subject.master_arn, pg.master_arn, pg.allowed_master_arns, field="masterarn",
            role="a master secret", variable=ENV_POSTGRES_MASTER_SECRET_ARNS, parameter="PostgresMasterSecretArns",
        )  # fmt: skip
        if master_arn is None:
            from rotator.kinds.postgres.single_user import SingleUserStrategy

            return SingleUserStrategy(self.server, passwords)
        from rotator.kinds.postgres.alternating_users import AlternatingUsersStrategy

        return AlternatingUsersStrategy(self.server, passwords, master_arn)

    def rollback_note(self, current: PostgresSecret, previous: PostgresSecret) -> str | None:
        if current.username == previous.username:
            raise PolicyError(
                "this secret rotates a single PostgreSQL user: the AWSPREVIOUS password no longer works, so rolling "
                "back would lock the application out. Rotate again instead (`rotation rotate`)."
            )
        return None


KIND_CLASS = PostgresKind
