"""The PR gate's GitHub side, split by job; `buildopt gh gate` and `buildopt gh comment` (cli.py) wire it.

Two halves, matching the fork-safe two-workflow pattern (docs/ci.md):

- **gate** (workflow a, `pull_request`, read-only token, runs PR code): `run.run_gate` runs
  `buildopt compare` on each Dockerfile (after building the base branch's version as the baseline when
  asked) and `run.write_gate_files` writes `gate.json`, the comment payload and a merged SARIF into the
  output dir, which is uploaded as an artifact.
- **comment** (workflow b, `workflow_run`, write token, never runs PR code): `artifacts.load_artifacts`
  treats that artifact as untrusted data (size caps, no symlinks, a PR number made of digits, a head sha
  that must match the triggering run, every report.json read by the strict `CompareReport.from_json`);
  `comment.comment_from_artifacts` renders the comment again with our own code, finds the PR through the
  API and creates or updates one sticky comment (`api`).

| module | job |
|---|---|
| `events` | the webhook payloads (`pull_request`, `workflow_run`) |
| `inputs` | the action's `INPUT_*` variables |
| `git` | the base branch's tree, paths inside the repository |
| `model` | gate.json (schema buildopt.gate/v1) as typed dataclasses |
| `run` | the compares, in child processes, and the files of the output dir |
| `artifacts` | reading the untrusted artifact |
| `comment` | the comment's text, and workflow (b) from artifact to API |
| `api` | the GitHub REST client, the PR lookup and the sticky comment |
| `outputs` | `GITHUB_OUTPUT` and the job summary |
"""
