// Merge's Node SDK against a live Relink, one phase per run (tests/conformance drives the phases
// and runs the syncs in between). The SDK validates every response and, on a mismatch with
// Merge's schema, prints "Failed to validate." through console.warn: every warning is collected
// and printed in the result, which the Python test requires to be empty.
// Usage: node drive.js <phase>; env RELINK_URL, RELINK_API_KEY, RELINK_ACCOUNT_TOKEN, RELINK_ORIGIN_ID.
"use strict";

const { MergeClient } = require("@mergeapi/merge-node-client");

const warnings = [];
console.warn = (...args) => warnings.push(args.map(String).join(" "));

const base = process.env.RELINK_URL;
const apiKey = process.env.RELINK_API_KEY;
const accountToken = process.env.RELINK_ACCOUNT_TOKEN || undefined;
const merge = new MergeClient({ apiKey, accountToken, baseUrl: `${base}/api` });

async function post(path, body, token) {
  const headers = { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" };
  if (token) headers["X-Account-Token"] = token;
  const response = await fetch(`${base}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json().catch(() => null) };
}

async function allPages(page) {
  const items = [...page.data];
  while (page.hasNextPage()) {
    page = await page.getNextPage();
    items.push(...page.data);
  }
  return items;
}

const phases = {
  // Link an account the way a Merge customer's backend does (the page step through the sandbox helper).
  async link() {
    const link = await merge.hris.linkToken.create({
      endUserEmailAddress: "people@node.example",
      endUserOrganizationName: "Node Inc",
      endUserOriginId: process.env.RELINK_ORIGIN_ID,
      categories: ["hris"],
      integration: "sandbox",
    });
    const finished = await post("/api/sandbox/v1/public-token", {
      link_token: link.linkToken,
      integration: "sandbox",
      credentials: { api_key: "sk_sandbox_node" },
    });
    const exchanged = await merge.hris.accountToken.retrieve(finished.body.public_token);
    // Another end user types a wrong key: their account stays INCOMPLETE (listed below).
    const other = await merge.hris.linkToken.create({
      endUserEmailAddress: "wrong@node.example",
      endUserOrganizationName: "Wrong Key Ltd",
      endUserOriginId: `${process.env.RELINK_ORIGIN_ID}-wrong`,
      categories: ["hris"],
    });
    const failed = await post("/api/sandbox/v1/public-token", {
      link_token: other.linkToken,
      integration: "sandbox",
      credentials: { api_key: "not-a-sandbox-key" },
    });
    return {
      integration_name: link.integrationName,
      account_token: exchanged.accountToken,
      id: exchanged.id,
      failed_status: failed.status,
    };
  },

  // After a successful sync: every read, a filter, and a resync.
  async synced() {
    const details = await merge.hris.accountDetails.retrieve();
    const accounts = await allPages(await merge.hris.linkedAccounts.list({ pageSize: 50 }));
    const statuses = await allPages(await merge.hris.syncStatus.list());
    const employees = await allPages(await merge.hris.employees.list({ pageSize: 100 }));
    const none = await merge.hris.employees.list({ modifiedBefore: new Date("2000-01-01T00:00:00Z") });
    const active = await allPages(await merge.hris.employees.list({ employmentStatus: "ACTIVE", pageSize: 100 }));
    const one = await merge.hris.employees.retrieve(employees[0].id);
    const resync = await merge.hris.forceResync.syncStatusResyncCreate();
    let bogus = null;
    try {
      await merge.hris.employees.list({ employmentStatus: "BOGUS" });
    } catch (error) {
      bogus = { status: error.statusCode, body: error.body };
    }
    return {
      status: details.status,
      statuses: accounts.map((a) => a.status).sort(),
      incomplete_details: accounts.filter((a) => a.status === "INCOMPLETE").map((a) => a.statusDetail).sort(),
      sync_status: statuses.map((s) => s.status),
      employees: employees.length,
      modified_before_2000: none.data.length,
      active: active.length,
      all_active: active.every((e) => e.employmentStatus === "ACTIVE"),
      retrieved: one.id === employees[0].id,
      resync: resync.map((s) => s.status),
      bogus,
    };
  },

  // The sandbox provider revokes the account's key (its next sync gets 401).
  async revoke() {
    const revoked = await post("/api/sandbox/v1/reset-login", {}, accountToken);
    return { status: revoked.status };
  },

  // After the sync that met the revoked key: the issue, the paused sync, Relink Needed.
  async revoked() {
    const details = await merge.hris.accountDetails.retrieve();
    const issues = await allPages(await merge.hris.issues.list({ status: "ONGOING" }));
    const issue = await merge.hris.issues.retrieve(issues[0].id);
    const relink = await allPages(await merge.hris.linkedAccounts.list({ status: "RELINK_NEEDED" }));
    const statuses = await allPages(await merge.hris.syncStatus.list());
    return {
      status: details.status,
      issues: issues.map((i) => i.errorDescription),
      issue_end_user: issue.endUser && issue.endUser.end_user_origin_id,
      relink_needed: relink.map((a) => a.id),
      sync_status: statuses.map((s) => s.status),
    };
  },
};

(async () => {
  const phase = phases[process.argv[2]];
  if (!phase) throw new Error(`unknown phase ${process.argv[2]}`);
  const result = await phase();
  process.stdout.write(JSON.stringify({ result, warnings }));
})().catch((error) => {
  process.stdout.write(JSON.stringify({ error: String(error.stack || error), body: error.body, warnings }));
  process.exitCode = 1;
});
