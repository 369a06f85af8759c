"""The syncs app's tables as they stand after its migrations 0001 to 0007, squashed into one.

A database that applied every replaced migration records this one as applied; one that applied
only some must first migrate on the previous release (docs/operations.md, 'Upgrading').

On PostgreSQL the request-log table is then made range-partitioned by UTC day on created_at
(syncs/request_log_partitions.py keeps the partitions): the model is unchanged, so Django's state
is too; SQLite keeps the plain table."""

from datetime import UTC, datetime, timedelta

import accounts.ids
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLE = "syncs_requestlog"
SEQUENCE = "syncs_requestlog_id_seq"
# Django's names for the request log's indexes and foreign keys, made again on the partitioned table.
INDEXES = [
    "CREATE INDEX requestlog_created ON {t} (created_at)",
    "CREATE INDEX requestlog_account_created ON {t} (linked_account_id, created_at DESC)",
    "CREATE INDEX syncs_requestlog_sync_run_id_daf76b57 ON {t} (sync_run_id)",
    "ALTER TABLE {t} ADD CONSTRAINT syncs_requestlog_linked_account_id_922e1268_fk_accounts_ "
    "FOREIGN KEY (linked_account_id) REFERENCES accounts_linkedaccount (id) DEFERRABLE INITIALLY DEFERRED",
    "ALTER TABLE {t} ADD CONSTRAINT syncs_requestlog_sync_run_id_daf76b57_fk_syncs_syncrun_id "
    "FOREIGN KEY (sync_run_id) REFERENCES syncs_syncrun (id) DEFERRABLE INITIALLY DEFERRED",
]


def _midnight(day) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat()


def partition(apps, schema_editor):
    """The plain request-log table, just made, replaced by a partitioned one of the same columns."""
    if schema_editor.connection.vendor != "postgresql":
        return
    # CreateModel defers its foreign keys and indexes to the migration's end: make them now, on the
    # plain table, so that they are not made twice on the partitioned one below.
    for statement in schema_editor.deferred_sql:
        schema_editor.execute(statement)
    schema_editor.deferred_sql.clear()
    new = f"{TABLE}_partitioned"
    today = datetime.now(UTC).date()
    statements = [
        f"CREATE TABLE {new} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (created_at)",
        f"CREATE TABLE {TABLE}_default PARTITION OF {new} DEFAULT",
    ]
    for offset in range(-settings.REQUEST_LOG_RETENTION_DAYS - 1, 8):
        day = today + timedelta(days=offset)
        statements.append(
            f"CREATE TABLE {TABLE}_p{day:%Y%m%d} PARTITION OF {new} "
            f"FOR VALUES FROM ('{_midnight(day)}') TO ('{_midnight(day + timedelta(days=1))}')"
        )
    statements += [
        f"CREATE SEQUENCE {SEQUENCE}_p",
        f"DROP TABLE {TABLE}",
        f"ALTER SEQUENCE {SEQUENCE}_p RENAME TO {SEQUENCE}",
        f"ALTER TABLE {new} RENAME TO {TABLE}",
        f"ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{SEQUENCE}')",
        f"ALTER SEQUENCE {SEQUENCE} OWNED BY {TABLE}.id",
        # A partitioned table's unique keys include the partition key; ids stay unique (one sequence).
        f"ALTER TABLE {TABLE} ADD CONSTRAINT syncs_requestlog_pkey PRIMARY KEY (id, created_at)",
        *(s.format(t=TABLE) for s in INDEXES),
    ]
    for statement in statements:
        schema_editor.execute(statement)


def common_model_row(name, label, fields):
    """CreateModel of a common-model row (syncs.models.CommonModelRow): its shared columns around the model's own."""
    return migrations.CreateModel(
        name=name,
        fields=[
            ('id', models.UUIDField(default=accounts.ids.uuid7, editable=False, primary_key=True, serialize=False)),
            ('remote_id', models.CharField(max_length=255)),
            ('remote_was_deleted', models.BooleanField(default=False)),
            ('created_at', models.DateTimeField(auto_now_add=True)),
            ('modified_at', models.DateTimeField()),
            ('content_hash', models.CharField(blank=True, default='', max_length=40)),
            *fields,
            ('linked_account', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='%(class)ss', to='accounts.linkedaccount')),
        ],
        options={
            'abstract': False,
            'indexes': [models.Index(fields=['linked_account', 'id'], name=f'{label}_account_id'), models.Index(fields=['linked_account', 'modified_at'], name=f'{label}_account_modified')],
            'constraints': [models.UniqueConstraint(fields=('linked_account', 'remote_id'), name=f'uniq_{label}_remote_id')],
        },
    )


class Migration(migrations.Migration):

    initial = True

    replaces = [('syncs', '0001_initial'), ('syncs', '0002_employee_content_hash'), ('syncs', '0003_sync_dispatch'), ('syncs', '0004_candidate_contact'), ('syncs', '0005_requestlog_partitioned'), ('syncs', '0006_employee_merge_fields'), ('syncs', '0007_oauth_token')]

    dependencies = [
        ('accounts', '0001_squashed_0006_linkedaccount_status_detail'),
    ]

    operations = [
        migrations.CreateModel(
            name='SyncDispatch',
            fields=[
                ('linked_account', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='accounts.linkedaccount')),
                ('leased_until', models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name='OAuthToken',
            fields=[
                ('linked_account', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='oauth_token', serialize=False, to='accounts.linkedaccount')),
                ('source_hash', models.CharField(max_length=64)),
                ('tokens_encrypted', models.TextField()),
                ('generation', models.PositiveBigIntegerField(default=0)),
                ('access_expires_at', models.DateTimeField(blank=True, null=True)),
                ('grant_expires_at', models.DateTimeField(blank=True, null=True)),
                ('grant_expiry_warned_at', models.DateTimeField(blank=True, null=True)),
                ('refreshed_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('grant_expires_at__isnull', False), ('grant_expiry_warned_at__isnull', True)), fields=['grant_expires_at'], name='oauth_grant_unwarned')],
            },
        ),
        migrations.CreateModel(
            name='SyncRun',
            fields=[
                ('id', models.UUIDField(default=accounts.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('integration', models.CharField(max_length=64)),
                ('trigger', models.CharField(choices=[('schedule', 'On schedule'), ('forced', 'Forced (resync, relink or operator)')], max_length=16)),
                ('reason', models.CharField(blank=True, default='', max_length=200)),
                ('status', models.CharField(choices=[('RUNNING', 'Running'), ('DONE', 'Done'), ('FAILED', 'Failed'), ('PARTIALLY_SYNCED', 'Partially synced')], default='RUNNING', max_length=20)),
                ('started_at', models.DateTimeField()),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('lease_expires_at', models.DateTimeField(blank=True, null=True)),
                ('error_class', models.CharField(blank=True, default='', max_length=32)),
                ('error_message', models.CharField(blank=True, default='', max_length=500)),
                ('requests_total', models.PositiveIntegerField(default=0)),
                ('requests_failed', models.PositiveIntegerField(default=0)),
                ('records_fetched', models.PositiveIntegerField(default=0)),
                ('records_created', models.PositiveIntegerField(default=0)),
                ('records_updated', models.PositiveIntegerField(default=0)),
                ('records_deleted', models.PositiveIntegerField(default=0)),
                ('records_skipped', models.PositiveIntegerField(default=0)),
                ('model_counts', models.JSONField(blank=True, default=dict)),
                ('linked_account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='sync_runs', to='accounts.linkedaccount')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.organization')),
            ],
            options={
                'ordering': ['-started_at'],
            },
        ),
        migrations.CreateModel(
            name='RequestLog',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('organization_id', models.UUIDField(blank=True, null=True)),
                ('integration', models.CharField(max_length=64)),
                ('method', models.CharField(max_length=8)),
                ('url', models.CharField(max_length=2000)),
                ('status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('duration_ms', models.PositiveIntegerField(default=0)),
                ('error_class', models.CharField(blank=True, default='', max_length=32)),
                ('created_at', models.DateTimeField()),
                ('linked_account', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.linkedaccount')),
                ('sync_run', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='requests', to='syncs.syncrun')),
            ],
        ),
        common_model_row('Candidate', 'candidate', [
            ('first_name', models.CharField(blank=True, max_length=255, null=True)),
            ('last_name', models.CharField(blank=True, max_length=255, null=True)),
            ('company', models.CharField(blank=True, max_length=255, null=True)),
            ('title', models.CharField(blank=True, max_length=255, null=True)),
            ('remote_created_at', models.DateTimeField(blank=True, null=True)),
            ('remote_updated_at', models.DateTimeField(blank=True, null=True)),
            ('last_interaction_at', models.DateTimeField(blank=True, null=True)),
            ('is_private', models.BooleanField(blank=True, null=True)),
            ('can_email', models.BooleanField(blank=True, null=True)),
            ('locations', models.JSONField(blank=True, default=list)),
            ('phone_numbers', models.JSONField(blank=True, default=list)),
            ('email_addresses', models.JSONField(blank=True, default=list)),
            ('urls', models.JSONField(blank=True, default=list)),
            ('tags', models.JSONField(blank=True, default=list)),
        ]),
        common_model_row('Contact', 'contact', [
            ('first_name', models.CharField(blank=True, max_length=255, null=True)),
            ('last_name', models.CharField(blank=True, max_length=255, null=True)),
            ('addresses', models.JSONField(blank=True, default=list)),
            ('email_addresses', models.JSONField(blank=True, default=list)),
            ('phone_numbers', models.JSONField(blank=True, default=list)),
            ('last_activity_at', models.DateTimeField(blank=True, null=True)),
            ('remote_created_at', models.DateTimeField(blank=True, null=True)),
        ]),
        common_model_row('Employee', 'employee', [
            ('employee_number', models.CharField(blank=True, max_length=255, null=True)),
            ('first_name', models.CharField(blank=True, default='', max_length=255)),
            ('last_name', models.CharField(blank=True, default='', max_length=255)),
            ('display_full_name', models.CharField(blank=True, default='', max_length=512)),
            ('work_email', models.CharField(blank=True, max_length=320, null=True)),
            ('personal_email', models.CharField(blank=True, max_length=320, null=True)),
            ('mobile_phone_number', models.CharField(blank=True, max_length=64, null=True)),
            ('employment_status', models.CharField(blank=True, choices=[('ACTIVE', 'Active'), ('PENDING', 'Pending'), ('INACTIVE', 'Inactive')], max_length=16, null=True)),
            ('start_date', models.DateTimeField(blank=True, null=True)),
            ('termination_date', models.DateTimeField(blank=True, null=True)),
            ('remote_created_at', models.DateTimeField(blank=True, null=True)),
            ('preferred_name', models.CharField(blank=True, max_length=255, null=True)),
            ('username', models.CharField(blank=True, max_length=255, null=True)),
            ('gender', models.CharField(blank=True, max_length=32, null=True)),
            ('ethnicity', models.CharField(blank=True, max_length=64, null=True)),
            ('marital_status', models.CharField(blank=True, max_length=64, null=True)),
            ('hire_date', models.DateTimeField(blank=True, null=True)),
            ('avatar', models.CharField(blank=True, max_length=2000, null=True)),
            ('employee_url', models.CharField(blank=True, max_length=2000, null=True)),
            ('custom_fields', models.JSONField(blank=True, null=True)),
            ('ssn', models.CharField(blank=True, max_length=64, null=True)),
            ('date_of_birth', models.DateTimeField(blank=True, null=True)),
        ]),
        migrations.AddIndex(
            model_name='syncrun',
            index=models.Index(fields=['linked_account', '-started_at'], name='syncrun_account_started'),
        ),
        migrations.AddIndex(
            model_name='syncrun',
            index=models.Index(condition=models.Q(('status', 'RUNNING')), fields=['lease_expires_at'], name='syncrun_running_lease'),
        ),
        migrations.AddConstraint(
            model_name='syncrun',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'RUNNING')), fields=('linked_account',), name='one_running_sync_per_account'),
        ),
        migrations.AddIndex(
            model_name='requestlog',
            index=models.Index(fields=['created_at'], name='requestlog_created'),
        ),
        migrations.AddIndex(
            model_name='requestlog',
            index=models.Index(fields=['linked_account', '-created_at'], name='requestlog_account_created'),
        ),
        migrations.RunPython(partition, migrations.RunPython.noop, elidable=False),
    ]
