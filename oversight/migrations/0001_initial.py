"""The oversight records, moved from `governance` with their tables (`db_table` keeps the old
names, so no row moves): a state-only CreateModel per model, after governance 0009 removed them
from governance's state."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = ['document', 'documentattachment', 'documentrevision', 'documentsection', 'finding', 'findingresponse', 'reviewoverdue', 'riskassessment']


def move_content_types(apps, schema_editor, *, src="governance", dst="oversight"):
    """Keep the content types (and the permissions and admin log entries pointing at them): the
    same rows, relabelled, rather than stale governance ones beside new oversight ones."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    taken = set(ContentType.objects.using(db).filter(app_label=dst, model__in=MOVED)
                .values_list("model", flat=True))
    ContentType.objects.using(db).filter(app_label=src, model__in=MOVED).exclude(
        model__in=taken).update(app_label=dst)


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, src="oversight", dst="governance")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('governance', '0009_move_records_to_oversight'),
        ('registry', '0004_dataset_latest_version'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        # State only: the tables stay where they are (every row with them); only Django's
        # idea of which app owns the models changes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Document',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('template_slug', models.SlugField()),
                        ('revision', models.PositiveIntegerField(default=0)),
                        ('facts', models.JSONField(blank=True, default=dict, help_text='What the registry knew at creation.')),
                        ('fields', models.JSONField(blank=True, default=dict, help_text='Structured fields (purpose …).')),
                        ('signed_off_at', models.DateTimeField(blank=True, null=True)),
                        ('signed_off_revision', models.PositiveIntegerField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('created_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('signed_off_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('template', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='documents', to='governance.documenttemplate')),
                        ('version', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='documents', to='registry.modelversion')),
                    ],
                    options={
                        'db_table': 'governance_document',
                        'ordering': ['version_id', 'template_slug'],
                    },
                ),
                migrations.CreateModel(
                    name='DocumentAttachment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('section_key', models.CharField(max_length=64)),
                        ('name', models.CharField(max_length=255)),
                        ('content_type', models.CharField(blank=True, max_length=100)),
                        ('sha256', models.CharField(max_length=64)),
                        ('size', models.BigIntegerField()),
                        ('storage_path', models.CharField(help_text='Relative to ARTIFACT_ROOT.', max_length=300)),
                        ('revision_number', models.PositiveIntegerField()),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('document', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='attachments', to='oversight.document')),
                        ('uploaded_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'governance_documentattachment',
                        'ordering': ['document_id', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='DocumentRevision',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('number', models.PositiveIntegerField()),
                        ('section_key', models.CharField(max_length=64)),
                        ('text', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField()),
                        ('note', models.CharField(blank=True, max_length=200)),
                        ('author', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('document', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='revisions', to='oversight.document')),
                    ],
                    options={
                        'db_table': 'governance_documentrevision',
                        'ordering': ['document_id', 'number'],
                    },
                ),
                migrations.CreateModel(
                    name='DocumentSection',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('key', models.CharField(max_length=64)),
                        ('text', models.TextField(blank=True)),
                        ('revision_number', models.PositiveIntegerField()),
                        ('updated_at', models.DateTimeField()),
                        ('document', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='sections', to='oversight.document')),
                        ('updated_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'governance_documentsection',
                        'ordering': ['document_id', 'key'],
                    },
                ),
                migrations.CreateModel(
                    name='Finding',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('section_key', models.CharField(blank=True, max_length=64)),
                        ('title', models.CharField(max_length=200)),
                        ('description', models.TextField(blank=True)),
                        ('severity', models.CharField(choices=[('low', 'Low'), ('medium', 'Medium'), ('high', 'High'), ('critical', 'Critical')], db_index=True, max_length=10)),
                        ('status', models.CharField(choices=[('open', 'Open'), ('remediated', 'Remediated (awaiting validator)'), ('accepted', 'Risk accepted with justification'), ('closed', 'Closed')], db_index=True, default='open', max_length=12)),
                        ('due_date', models.DateField(blank=True, null=True)),
                        ('justification', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('resolved_at', models.DateTimeField(blank=True, null=True)),
                        ('document', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='findings', to='oversight.document')),
                        ('model', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='findings', to='registry.registeredmodel')),
                        ('opened_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('owner', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='owned_findings', to=settings.AUTH_USER_MODEL)),
                        ('version', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='findings', to='registry.modelversion')),
                    ],
                    options={
                        'db_table': 'governance_finding',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='FindingResponse',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('body', models.TextField()),
                        ('status_from', models.CharField(blank=True, max_length=12)),
                        ('status_to', models.CharField(blank=True, max_length=12)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('author', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('finding', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='responses', to='oversight.finding')),
                    ],
                    options={
                        'db_table': 'governance_findingresponse',
                        'ordering': ['finding_id', 'created_at', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='ReviewOverdue',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('review_date', models.DateField()),
                        ('detected_at', models.DateTimeField(auto_now_add=True)),
                        ('notified_user_ids', models.JSONField(blank=True, default=list)),
                        ('model', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='overdue_reviews', to='registry.registeredmodel')),
                    ],
                    options={
                        'db_table': 'governance_reviewoverdue',
                        'ordering': ['-detected_at'],
                    },
                ),
                migrations.CreateModel(
                    name='RiskAssessment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('questionnaire_version', models.CharField(max_length=20)),
                        ('answers', models.JSONField()),
                        ('score', models.IntegerField()),
                        ('computed_tier', models.PositiveSmallIntegerField()),
                        ('override_tier', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('override_justification', models.TextField(blank=True)),
                        ('overridden_at', models.DateTimeField(blank=True, null=True)),
                        ('eu_ai_act_class', models.CharField(choices=[('prohibited', 'Prohibited practice (EU AI Act Art. 5)'), ('high', 'High-risk (Art. 6, Annex I / Annex III)'), ('limited', 'Limited risk: transparency duties (Art. 50)'), ('minimal', 'Minimal risk')], max_length=20)),
                        ('reasons', models.JSONField(default=list)),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('expires_at', models.DateTimeField()),
                        ('assessed_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('model', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='risk_assessments', to='registry.registeredmodel')),
                        ('overridden_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'governance_riskassessment',
                        'ordering': ['model_id', '-created_at', '-id'],
                    },
                ),
                migrations.AddConstraint(
                    model_name='document',
                    constraint=models.UniqueConstraint(fields=('version', 'template_slug'), name='document_one_per_template'),
                ),
                migrations.AddConstraint(
                    model_name='document',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('signed_off_at__isnull', True), ('signed_off_by__isnull', True), ('signed_off_revision__isnull', True)), models.Q(('signed_off_at__isnull', False), ('signed_off_by__isnull', False), ('signed_off_revision__isnull', False)), _connector='OR'), name='document_signoff_complete'),
                ),
                migrations.AddIndex(
                    model_name='documentrevision',
                    index=models.Index(fields=['document', 'section_key'], name='docrevision_section_idx'),
                ),
                migrations.AddConstraint(
                    model_name='documentrevision',
                    constraint=models.UniqueConstraint(fields=('document', 'number'), name='docrevision_unique_number'),
                ),
                migrations.AddConstraint(
                    model_name='documentsection',
                    constraint=models.UniqueConstraint(fields=('document', 'key'), name='docsection_unique_key'),
                ),
                migrations.AddIndex(
                    model_name='finding',
                    index=models.Index(fields=['model', 'status'], name='finding_model_status_idx'),
                ),
                migrations.AddConstraint(
                    model_name='finding',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'accepted'), _negated=True), models.Q(('justification', ''), _negated=True), _connector='OR'), name='finding_accepted_needs_justification'),
                ),
                migrations.AddConstraint(
                    model_name='reviewoverdue',
                    constraint=models.UniqueConstraint(fields=('model', 'review_date'), name='reviewoverdue_unique'),
                ),
                migrations.AddConstraint(
                    model_name='riskassessment',
                    constraint=models.CheckConstraint(condition=models.Q(('computed_tier__in', [1, 2, 3])), name='riskassessment_tier_1_to_3'),
                ),
                migrations.AddConstraint(
                    model_name='riskassessment',
                    constraint=models.CheckConstraint(condition=models.Q(('override_tier__isnull', True), models.Q(('override_tier__in', [1, 2, 3]), models.Q(('override_justification', ''), _negated=True)), _connector='OR'), name='riskassessment_override_needs_justification'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
