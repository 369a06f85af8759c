"""The linking app's tables as they stand after its migrations 0001 to 0003, squashed into one.

A database that applied every replaced migration records this one as applied; one that applied
only some must first migrate on the previous release (docs/operations.md, 'Upgrading')."""

import accounts.ids
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    replaces = [('linking', '0001_initial'), ('linking', '0002_linkattempt'), ('linking', '0003_oauth')]

    dependencies = [
        ('accounts', '0001_squashed_0006_linkedaccount_status_detail'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='LinkToken',
            fields=[
                ('id', models.UUIDField(default=accounts.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('account_type', models.CharField(choices=[('PRODUCTION', 'Production'), ('TEST', 'Test')], max_length=10)),
                ('token_hash', models.CharField(max_length=64, unique=True)),
                ('category', models.CharField(max_length=16)),
                ('categories', models.JSONField(default=list)),
                ('integration', models.CharField(blank=True, default='', max_length=64)),
                ('end_user_origin_id', models.CharField(max_length=255)),
                ('end_user_organization_name', models.CharField(max_length=255)),
                ('end_user_email_address', models.EmailField(max_length=255)),
                ('language', models.CharField(blank=True, default='', max_length=8)),
                ('is_magic_link', models.BooleanField(default=False)),
                ('is_relink', models.BooleanField(default=False)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('expires_at', models.DateTimeField()),
                ('used_at', models.DateTimeField(blank=True, null=True)),
                ('linked_account', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='link_tokens', to='accounts.linkedaccount')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='link_tokens', to='accounts.organization')),
            ],
        ),
        migrations.CreateModel(
            name='OAuthConsent',
            fields=[
                ('id', models.UUIDField(default=accounts.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('integration', models.CharField(max_length=64)),
                ('state_hash', models.CharField(max_length=64, unique=True)),
                ('browser_hash', models.CharField(max_length=64)),
                ('secrets_encrypted', models.TextField()),
                ('redirect_uri', models.URLField(max_length=500)),
                ('popup', models.BooleanField(default=False)),
                ('magic', models.BooleanField(default=False)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('expires_at', models.DateTimeField()),
                ('used_at', models.DateTimeField(blank=True, null=True)),
                ('link_token', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='oauth_consents', to='linking.linktoken')),
            ],
        ),
        migrations.CreateModel(
            name='PublicToken',
            fields=[
                ('id', models.UUIDField(default=accounts.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('account_type', models.CharField(choices=[('PRODUCTION', 'Production'), ('TEST', 'Test')], max_length=10)),
                ('token_hash', models.CharField(max_length=64, unique=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('expires_at', models.DateTimeField()),
                ('used_at', models.DateTimeField(blank=True, null=True)),
                ('link_token', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='public_tokens', to='linking.linktoken')),
                ('linked_account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='public_tokens', to='accounts.linkedaccount')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='public_tokens', to='accounts.organization')),
            ],
        ),
        migrations.CreateModel(
            name='RelinkEmail',
            fields=[
                ('id', models.UUIDField(default=accounts.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('to_address', models.EmailField(max_length=255)),
                ('kind', models.CharField(choices=[('MANUAL', 'Sent by an operator'), ('REMINDER', 'Automatic reminder'), ('EXPIRING', 'Grant about to expire')], default='MANUAL', max_length=10)),
                ('sent_at', models.DateTimeField()),
                ('link_expires_at', models.DateTimeField()),
                ('link_token', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='linking.linktoken')),
                ('linked_account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='relink_emails', to='accounts.linkedaccount')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='relink_emails', to='accounts.organization')),
                ('sent_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-sent_at'],
            },
        ),
        migrations.CreateModel(
            name='LinkAttempt',
            fields=[
                ('id', models.UUIDField(default=accounts.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('integration', models.CharField(max_length=64)),
                ('succeeded', models.BooleanField()),
                ('error_description', models.CharField(blank=True, default='', max_length=64)),
                ('message', models.CharField(blank=True, default='', max_length=300)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('linked_account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='link_attempts', to='accounts.linkedaccount')),
            ],
            options={
                'indexes': [models.Index(fields=['linked_account', '-created_at'], name='linkattempt_account_created')],
            },
        ),
        migrations.AddIndex(
            model_name='linktoken',
            index=models.Index(fields=['organization', 'account_type', 'end_user_origin_id'], name='link_token_org_env_origin'),
        ),
        migrations.AddIndex(
            model_name='relinkemail',
            index=models.Index(fields=['linked_account', '-sent_at'], name='relink_email_account_sent'),
        ),
        migrations.AddConstraint(
            model_name='relinkemail',
            constraint=models.CheckConstraint(condition=models.Q(('to_address', ''), _negated=True), name='relink_email_has_address'),
        ),
    ]
