"""HTTP routes of misconduct case tracking, one module per resource: cases (intake, lists, steps), their
victims, attachments and audit trail, and the statistics and review flags across cases."""
