"""Summit planning: milestones, delegations, programme and funding."""
