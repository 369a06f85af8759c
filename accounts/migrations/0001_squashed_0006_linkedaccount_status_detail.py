"""The accounts app's tables as they stand after its migrations 0001 to 0006, squashed into one.

A database that applied every replaced migration records this one as applied; one that applied
only some must first migrate on the previous release (docs/operations.md, 'Upgrading')."""

import accounts.ids
import django.db.models.deletion
import django_fsm
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    replaces = [('accounts', '0001_initial'), ('accounts', '0002_linked_account_fewer_indexes'), ('accounts', '0003_la_due_with_id'), ('accounts', '0004_organization_embedding_origins'), ('accounts', '0005_billing_months'), ('accounts', '0006_linkedaccount_status_detail')]

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Organization',
            fields=[
                ('id', models.UUIDField(default=accounts.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('name', models.CharField(max_length=200)),
                ('default_sync_frequency', models.CharField(choices=[('5m', 'Every 5 minutes'), ('1h', 'Hourly'), ('24h', 'Daily'), ('manual', 'Manual only')], default='1h', max_length=8)),
                ('relink_support_text', models.TextField(blank=True, default='Please contact your administrator or our support team.')),
                ('relink_reminder_days', models.PositiveIntegerField(blank=True, null=True)),
                ('embedding_origins', models.JSONField(blank=True, default=list)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.CreateModel(
            name='LinkedAccount',
            fields=[
                ('id', models.UUIDField(default=accounts.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('category', models.CharField(choices=[('hris', 'HRIS'), ('ats', 'ATS'), ('crm', 'CRM'), ('accounting', 'Accounting'), ('ticketing', 'Ticketing'), ('filestorage', 'File storage')], max_length=16)),
                ('integration', models.CharField(help_text='Integration slug', max_length=64)),
                ('end_user_origin_id', models.CharField(max_length=255)),
                ('end_user_organization_name', models.CharField(max_length=255)),
                ('end_user_email_address', models.EmailField(max_length=255)),
                ('account_type', models.CharField(choices=[('PRODUCTION', 'Production'), ('TEST', 'Test')], max_length=10)),
                ('status', django_fsm.FSMField(choices=[('COMPLETE', 'Complete'), ('INCOMPLETE', 'Incomplete'), ('RELINK_NEEDED', 'Relink needed'), ('IDLE', 'Idle')], default='INCOMPLETE', max_length=16, protected=True)),
                ('webhook_listener_url', models.URLField(blank=True, default='')),
                ('is_duplicate', models.BooleanField(blank=True, null=True)),
                ('completed_at', models.DateTimeField(blank=True, null=True)),
                ('status_detail', models.CharField(blank=True, default='', max_length=500)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('account_token_hash', models.CharField(max_length=64)),
                ('account_token_encrypted', models.TextField()),
                ('credentials_encrypted', models.TextField(blank=True, default='')),
                ('sync_frequency', models.CharField(blank=True, choices=[('5m', 'Every 5 minutes'), ('1h', 'Hourly'), ('24h', 'Daily'), ('manual', 'Manual only')], default='', help_text='Blank: organization default', max_length=8)),
                ('next_sync_at', models.DateTimeField(blank=True, null=True)),
                ('last_inbound_at', models.DateTimeField(blank=True, null=True)),
                ('organization', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='linked_accounts', to='accounts.organization')),
            ],
        ),
        migrations.CreateModel(
            name='BillingMonthAccount',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('month', models.DateField()),
                ('linked_account_uuid', models.UUIDField()),
                ('account_type', models.CharField(choices=[('PRODUCTION', 'Production'), ('TEST', 'Test')], max_length=10)),
                ('billable_days', models.IntegerField()),
                ('relink_needed_days', models.IntegerField()),
                ('incomplete_days', models.IntegerField()),
                ('test_days', models.IntegerField()),
                ('deleted_days', models.IntegerField()),
                ('status', models.CharField(choices=[('COMPLETE', 'Complete'), ('INCOMPLETE', 'Incomplete'), ('RELINK_NEEDED', 'Relink needed'), ('IDLE', 'Idle'), ('DELETED', 'Deleted')], max_length=16)),
                ('end_user_origin_id', models.CharField(max_length=255)),
                ('end_user_organization_name', models.CharField(max_length=255)),
                ('integration', models.CharField(max_length=64)),
                ('category', models.CharField(max_length=16)),
                ('entry', models.TextField()),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.organization')),
            ],
        ),
        migrations.CreateModel(
            name='BillingMonth',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('month', models.DateField(help_text="The month's first day (UTC).")),
                ('account_type', models.CharField(choices=[('PRODUCTION', 'Production'), ('TEST', 'Test')], max_length=10)),
                ('billable_days', models.BigIntegerField()),
                ('relink_needed_days', models.BigIntegerField()),
                ('incomplete_days', models.BigIntegerField()),
                ('test_days', models.BigIntegerField()),
                ('deleted_days', models.BigIntegerField()),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.organization')),
            ],
        ),
        migrations.CreateModel(
            name='ApiKey',
            fields=[
                ('id', models.UUIDField(default=accounts.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('environment', models.CharField(choices=[('PRODUCTION', 'Production'), ('TEST', 'Test')], max_length=10)),
                ('name', models.CharField(blank=True, max_length=100)),
                ('prefix', models.CharField(max_length=16)),
                ('key_hash', models.CharField(max_length=64, unique=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('revoked_at', models.DateTimeField(blank=True, null=True)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_keys', to='accounts.organization')),
            ],
        ),
        migrations.CreateModel(
            name='Membership',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to=settings.AUTH_USER_MODEL)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='accounts.organization')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('user', 'organization'), name='uniq_membership')],
            },
        ),
        migrations.CreateModel(
            name='LinkedAccountStatusChange',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('linked_account_uuid', models.UUIDField(db_index=True)),
                ('account_type', models.CharField(choices=[('PRODUCTION', 'Production'), ('TEST', 'Test')], max_length=10)),
                ('from_status', models.CharField(blank=True, choices=[('COMPLETE', 'Complete'), ('INCOMPLETE', 'Incomplete'), ('RELINK_NEEDED', 'Relink needed'), ('IDLE', 'Idle'), ('DELETED', 'Deleted')], default='', max_length=16)),
                ('to_status', models.CharField(choices=[('COMPLETE', 'Complete'), ('INCOMPLETE', 'Incomplete'), ('RELINK_NEEDED', 'Relink needed'), ('IDLE', 'Idle'), ('DELETED', 'Deleted')], max_length=16)),
                ('reason', models.CharField(blank=True, default='', max_length=500)),
                ('at', models.DateTimeField()),
                ('account_snapshot', models.JSONField(default=dict)),
                ('processed_at', models.DateTimeField(blank=True, null=True)),
                ('linked_account', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='status_changes', to='accounts.linkedaccount')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='status_changes', to='accounts.organization')),
            ],
            options={
                'ordering': ['at', 'id'],
                'indexes': [models.Index(fields=['organization', 'account_type', 'at'], name='lash_org_env_at'), models.Index(fields=['linked_account_uuid', 'at'], name='lash_account_at'), models.Index(condition=models.Q(('processed_at__isnull', True)), fields=['id'], name='lash_unprocessed')],
            },
        ),
        migrations.AddIndex(
            model_name='linkedaccount',
            index=models.Index(fields=['organization', 'account_type', 'created_at', 'id'], name='la_org_env_created'),
        ),
        migrations.AddIndex(
            model_name='linkedaccount',
            index=models.Index(fields=['organization', 'account_type', 'status', 'created_at', 'id'], name='la_org_env_status_created'),
        ),
        migrations.AddIndex(
            model_name='linkedaccount',
            index=models.Index(condition=models.Q(('status__in', ['COMPLETE', 'IDLE']), ('next_sync_at__isnull', False)), fields=['next_sync_at', 'id'], name='la_due'),
        ),
        migrations.AddConstraint(
            model_name='linkedaccount',
            constraint=models.UniqueConstraint(fields=('organization', 'account_type', 'category', 'end_user_origin_id'), name='uniq_linked_account_origin'),
        ),
        migrations.AddConstraint(
            model_name='linkedaccount',
            constraint=models.UniqueConstraint(fields=('account_token_hash',), name='uniq_linked_account_token_hash'),
        ),
        migrations.AddIndex(
            model_name='billingmonthaccount',
            index=models.Index(models.F('organization'), models.F('month'), models.OrderBy(models.F('billable_days'), descending=True), models.F('linked_account_uuid'), name='billing_month_top'),
        ),
        migrations.AddConstraint(
            model_name='billingmonthaccount',
            constraint=models.UniqueConstraint(fields=('organization', 'month', 'linked_account_uuid'), name='billing_month_account_once'),
        ),
        migrations.AddConstraint(
            model_name='billingmonth',
            constraint=models.UniqueConstraint(fields=('organization', 'month', 'account_type'), name='billing_month_once'),
        ),
    ]
