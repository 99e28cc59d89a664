"""The web console for people: a live leaderboard, why a lead scored, its history, alerts,
accounts and the model in force (`leadscore console`; docs/console.md)."""
