"""Risk assessments, documents (sections, revisions, attachments), findings (and responses) and
overdue reviews move to the `oversight` app. Their tables keep their names (`governance_*`), so
this only removes them from governance's migration state; oversight 0001 adds them to its own."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('governance', '0008_external_identity'),
    ]

    operations = [
        # State only: the tables stay where they are (every row with them); only Django's
        # idea of which app owns the models changes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='documentrevision',
                    name='document',
                ),
                migrations.RemoveField(
                    model_name='finding',
                    name='document',
                ),
                migrations.RemoveField(
                    model_name='documentsection',
                    name='document',
                ),
                migrations.RemoveField(
                    model_name='documentattachment',
                    name='document',
                ),
                migrations.RemoveField(
                    model_name='documentattachment',
                    name='uploaded_by',
                ),
                migrations.RemoveField(
                    model_name='documentrevision',
                    name='author',
                ),
                migrations.RemoveField(
                    model_name='documentsection',
                    name='updated_by',
                ),
                migrations.RemoveField(
                    model_name='finding',
                    name='model',
                ),
                migrations.RemoveField(
                    model_name='finding',
                    name='opened_by',
                ),
                migrations.RemoveField(
                    model_name='finding',
                    name='owner',
                ),
                migrations.RemoveField(
                    model_name='finding',
                    name='version',
                ),
                migrations.RemoveField(
                    model_name='findingresponse',
                    name='finding',
                ),
                migrations.RemoveField(
                    model_name='findingresponse',
                    name='author',
                ),
                migrations.RemoveField(
                    model_name='reviewoverdue',
                    name='model',
                ),
                migrations.RemoveField(
                    model_name='riskassessment',
                    name='assessed_by',
                ),
                migrations.RemoveField(
                    model_name='riskassessment',
                    name='model',
                ),
                migrations.RemoveField(
                    model_name='riskassessment',
                    name='overridden_by',
                ),
                migrations.DeleteModel(
                    name='Document',
                ),
                migrations.DeleteModel(
                    name='DocumentAttachment',
                ),
                migrations.DeleteModel(
                    name='DocumentRevision',
                ),
                migrations.DeleteModel(
                    name='DocumentSection',
                ),
                migrations.DeleteModel(
                    name='Finding',
                ),
                migrations.DeleteModel(
                    name='FindingResponse',
                ),
                migrations.DeleteModel(
                    name='ReviewOverdue',
                ),
                migrations.DeleteModel(
                    name='RiskAssessment',
                ),
            ],
            database_operations=[],
        ),
    ]
