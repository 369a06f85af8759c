"""The issues app's tables as they stand after its migrations 0001 to 0005, squashed into one.

A database that applied every replaced migration records this one as applied; one that applied
only some must first migrate on the previous release (docs/operations.md, 'Upgrading')."""

import accounts.ids
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    replaces = [('issues', '0001_initial'), ('issues', '0002_issue_created_at_keyset'), ('issues', '0003_webhook_token_not_stored'), ('issues', '0004_webhook_key_rotation_overlap'), ('issues', '0005_oauth_expiring')]

    dependencies = [
        ('accounts', '0001_squashed_0006_linkedaccount_status_detail'),
    ]

    operations = [
        migrations.CreateModel(
            name='WebhookEndpoint',
            fields=[
                ('id', models.UUIDField(default=accounts.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('url', models.URLField(max_length=2000)),
                ('description', models.CharField(blank=True, default='', max_length=200)),
                ('events', models.JSONField(default=list, help_text='Subscribed event names')),
                ('enabled', models.BooleanField(default=True)),
                ('signature_key_encrypted', models.TextField()),
                ('key_rotated_at', models.DateTimeField(blank=True, null=True)),
                ('previous_signature_key_encrypted', models.TextField(blank=True, default='')),
                ('url_changed_at', models.DateTimeField(blank=True, null=True)),
                ('failing_since', models.DateTimeField(blank=True, null=True)),
                ('last_success_at', models.DateTimeField(blank=True, null=True)),
                ('disabled_at', models.DateTimeField(blank=True, null=True)),
                ('disabled_reason', models.CharField(blank=True, default='', max_length=300)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='webhook_endpoints', to='accounts.organization')),
            ],
        ),
        migrations.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', models.UUIDField(default=accounts.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('event', models.CharField(choices=[('LinkedAccount.linked', 'Linked'), ('LinkedAccount.sync_completed', 'Sync Completed'), ('LinkedAccount.deleted', 'Deleted'), ('LinkedAccount.status_changed', 'Status Changed'), ('Issue.new', 'Issue New'), ('Issue.reopened', 'Issue Reopened'), ('Issue.resolved', 'Issue Resolved'), ('Issue.muted', 'Issue Muted'), ('LinkedAccount.credentials_expiring', 'Credentials Expiring')], max_length=64)),
                ('linked_account_uuid', models.UUIDField(blank=True, null=True)),
                ('body', models.TextField()),
                ('status', models.CharField(choices=[('PENDING', 'Pending'), ('SUCCEEDED', 'Delivered'), ('FAILED', 'Failed')], default='PENDING', max_length=10)),
                ('attempt_count', models.PositiveIntegerField(default=0)),
                ('window_started_at', models.DateTimeField()),
                ('window_attempts', models.PositiveIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                ('queued_at', models.DateTimeField(blank=True, null=True)),
                ('claimed_until', models.DateTimeField(blank=True, null=True)),
                ('last_status_code', models.PositiveIntegerField(blank=True, null=True)),
                ('last_error', models.CharField(blank=True, default='', max_length=500)),
                ('delivered_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField()),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='webhook_deliveries', to='accounts.organization')),
                ('endpoint', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='issues.webhookendpoint')),
            ],
            options={
                'verbose_name_plural': 'webhook deliveries',
            },
        ),
        migrations.CreateModel(
            name='WebhookNotice',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('kind', models.CharField(choices=[('ENDPOINT_DISABLED', 'Endpoint disabled')], max_length=32)),
                ('message', models.TextField()),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('acknowledged_at', models.DateTimeField(blank=True, null=True)),
                ('endpoint', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='notices', to='issues.webhookendpoint')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='webhook_notices', to='accounts.organization')),
            ],
        ),
        migrations.CreateModel(
            name='Issue',
            fields=[
                ('id', models.UUIDField(default=accounts.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('account_type', models.CharField(choices=[('PRODUCTION', 'Production'), ('TEST', 'Test')], max_length=10)),
                ('error_description', models.CharField(choices=[('Invalid API key', 'Invalid Api Key'), ('Missing permissions', 'Missing Permissions'), ('Rate limited', 'Rate Limited'), ('Third-party offline', 'Third Party Offline')], max_length=64)),
                ('status', models.CharField(choices=[('ONGOING', 'Ongoing'), ('RESOLVED', 'Resolved')], default='ONGOING', max_length=10)),
                ('first_incident_time', models.DateTimeField()),
                ('last_incident_time', models.DateTimeField()),
                ('occurrences', models.PositiveIntegerField(default=1)),
                ('error_details', models.JSONField(blank=True, default=list)),
                ('is_muted', models.BooleanField(default=False)),
                ('muted_at', models.DateTimeField(blank=True, null=True)),
                ('muted_by', models.CharField(blank=True, default='', max_length=150)),
                ('resolved_at', models.DateTimeField(blank=True, null=True)),
                ('resolution_reason', models.CharField(blank=True, default='', max_length=300)),
                ('reopened_count', models.PositiveIntegerField(default=0)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('linked_account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='issues', to='accounts.linkedaccount')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='issues', to='accounts.organization')),
            ],
            options={
                'indexes': [models.Index(fields=['organization', 'account_type', 'created_at', 'id'], name='issue_org_env_created'), models.Index(condition=models.Q(('is_muted', False)), fields=['organization', 'account_type', 'created_at', 'id'], name='issue_org_env_unmuted'), models.Index(fields=['organization', 'account_type', 'status', 'created_at', 'id'], name='issue_org_env_status'), models.Index(condition=models.Q(('is_muted', False)), fields=['organization', 'account_type', 'status', 'created_at', 'id'], name='issue_org_env_status_unmuted'), models.Index(fields=['linked_account', 'created_at'], name='issue_account_created')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('status', 'ONGOING')), fields=('linked_account', 'error_description'), name='uniq_ongoing_issue')],
            },
        ),
        migrations.CreateModel(
            name='WebhookAttempt',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('number', models.PositiveIntegerField()),
                ('started_at', models.DateTimeField()),
                ('duration_ms', models.PositiveIntegerField(blank=True, null=True)),
                ('outcome', models.CharField(choices=[('IN_FLIGHT', 'In flight'), ('SUCCESS', 'Success'), ('TRANSIENT', 'Transient failure (retried)'), ('PERMANENT', 'Permanent failure')], default='IN_FLIGHT', max_length=10)),
                ('status_code', models.PositiveIntegerField(blank=True, null=True)),
                ('response_body', models.TextField(blank=True, default='')),
                ('response_truncated', models.BooleanField(default=False)),
                ('error', models.CharField(blank=True, default='', max_length=500)),
                ('delivery', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attempts', to='issues.webhookdelivery')),
            ],
            options={
                'indexes': [models.Index(fields=['delivery', 'number'], name='wha_delivery_number')],
            },
        ),
        migrations.AddIndex(
            model_name='webhookendpoint',
            index=models.Index(fields=['organization', 'enabled'], name='whe_org_enabled'),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(condition=models.Q(('status', 'PENDING')), fields=['next_attempt_at'], name='whd_due'),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(fields=['endpoint', 'id'], name='whd_endpoint_id'),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(fields=['organization', 'id'], name='whd_org_id'),
        ),
        migrations.AddIndex(
            model_name='webhooknotice',
            index=models.Index(fields=['organization', 'created_at'], name='whn_org_created'),
        ),
    ]
