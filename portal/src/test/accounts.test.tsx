import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { api, parseDetail, setSession } from "../api";
import type { Manifest } from "../manifest";
import helloJson from "./fixtures/hello.json";
import { App } from "../App";
import { RouterProvider } from "../router";
import { SessionProvider } from "../session";
import { mockFetch, modelDetail, renderApp } from "./helpers";

function renderWithoutUser(path: string) {
  window.history.replaceState(null, "", path);
  setSession(null);
  return render(
    <RouterProvider>
      <SessionProvider>
        <App />
      </SessionProvider>
    </RouterProvider>,
  );
}

const hello = helloJson as unknown as Manifest;

describe("CSRF and the API module", () => {
  it("sends X-CSRF-Token from the feather_csrf cookie on state-changing calls, with the session cookie", async () => {
    document.cookie = "feather_csrf=cookie-token; path=/";
    const fetcher = mockFetch([
      { method: "POST", path: "/v1/tokens", reply: { status: 201, json: { id: "t1", name: "ci", token: "ft_x", created_at: "2026-01-01T00:00:00Z" } } },
      { method: "GET", path: "/v1/tokens", reply: { json: { items: [] } } },
      { method: "DELETE", path: "/v1/tokens/t1", reply: { status: 204 } },
      { method: "PATCH", path: "/v1/models/me/m", reply: { json: {} } },
    ]);
    await api.createToken("ci");
    await api.tokens();
    await api.revokeToken("t1");
    await api.updateModel("me", "m", { visibility: "private" });
    const [post, get, del, patch] = fetcher.calls;
    expect(post.headers["x-csrf-token"]).toBe("cookie-token");
    expect(post.init.credentials).toBe("same-origin");
    expect(post.headers["content-type"]).toBe("application/json");
    expect(get.headers["x-csrf-token"]).toBeUndefined();
    expect(get.init.credentials).toBe("same-origin");
    expect(del.headers["x-csrf-token"]).toBe("cookie-token");
    expect(patch.headers["x-csrf-token"]).toBe("cookie-token");
    expect(patch.body).toEqual({ visibility: "private" });
  });

  it("uses the csrf_token of the login answer when the cookie cannot be read", async () => {
    const fetcher = mockFetch([
      { method: "POST", path: "/v1/auth/login", reply: { json: { username: "ann", csrf_token: "from-login" } } },
      { method: "POST", path: "/v1/files", reply: { status: 201, json: { url: "feather:files/a/b.txt" } } },
    ]);
    const account = await api.login("ann", "secret-pw");
    setSession(account);
    await api.upload(new Blob(["x"]), "b.txt");
    expect(fetcher.calls[0].body).toEqual({ username: "ann", password: "secret-pw" });
    expect(fetcher.calls[1].headers["x-csrf-token"]).toBe("from-login");
    setSession(null);
  });

  it("turns 422 details into field messages", () => {
    const error = parseDetail(422, { detail: [{ loc: ["body", "inputs", "flowers", "rows", 0, 1], msg: "'x' is not of type 'number'" }, { loc: ["body", "username"], msg: "taken" }] });
    expect(error.fields).toEqual({ flowers: "rows.0.1: 'x' is not of type 'number'", username: "taken" });
    expect(parseDetail(401, { detail: "wrong username or password" }).message).toBe("wrong username or password");
    expect(parseDetail(500, null).message).toBe("The server failed (500); try again.");
  });
});

describe("tokens page", () => {
  it("shows a new token once, with a copy button, then only its name", async () => {
    const fetcher = mockFetch([
      { method: "GET", path: "/v1/tokens", reply: { json: { items: [{ id: "old", name: "laptop", created_at: "2026-01-01T10:00:00Z", last_used_at: null }] } } },
      { method: "POST", path: "/v1/tokens", reply: { status: 201, json: { id: "new", name: "ci", token: "ft_secret_value", created_at: "2026-02-01T10:00:00Z" } } },
      { method: "DELETE", path: "/v1/tokens/old", reply: { status: 204 } },
    ]);
    const user = userEvent.setup();
    renderApp("/tokens", { username: "ann", csrf_token: "c1" });
    expect(await screen.findByRole("cell", { name: "laptop" })).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Create token" }));
    expect(screen.getByText("Give the token a name, such as the machine that uses it.")).toBeInTheDocument();
    await user.type(screen.getByLabelText("New token name"), "ci");
    await user.click(screen.getByRole("button", { name: "Create token" }));
    expect(await screen.findByTestId("new-token")).toHaveTextContent("ft_secret_value");
    expect(screen.getByText("Copy it now: it will not be shown again.")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Copy token" })).toBeInTheDocument();
    expect(fetcher.find("POST", "/v1/tokens")[0].headers["x-csrf-token"]).toBe("c1");
    expect(screen.getByRole("cell", { name: "ci" })).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "I have copied it" }));
    expect(screen.queryByText("ft_secret_value")).not.toBeInTheDocument();
    expect(screen.getByRole("cell", { name: "ci" })).toBeInTheDocument();

    // revoke asks first
    await user.click(screen.getByRole("button", { name: "Revoke laptop" }));
    const confirm = screen.getByRole("group", { name: "Revoke laptop?" });
    await user.click(within(confirm).getByRole("button", { name: "Revoke" }));
    await waitFor(() => expect(screen.queryByRole("cell", { name: "laptop" })).not.toBeInTheDocument());
    expect(fetcher.find("DELETE", "/v1/tokens/old")).toHaveLength(1);
  });

  it("sends visitors who are not logged in to the login page", async () => {
    mockFetch([]);
    renderApp("/tokens", null);
    expect(await screen.findByRole("heading", { name: "Log in" })).toBeInTheDocument();
    expect(window.location.pathname + window.location.search).toBe("/login?next=%2Ftokens");
  });
});

describe("login, signup, logout", () => {
  it("shows a wrong password, then logs in and goes back to next", async () => {
    const fetcher = mockFetch([
      { method: "POST", path: "/v1/auth/login", times: 1, reply: { status: 401, json: { detail: "wrong username or password" } } },
      { method: "POST", path: "/v1/auth/login", reply: { json: { username: "ann", csrf_token: "c" } } },
      { method: "GET", path: "/v1/models", reply: { json: { items: [], next_cursor: null } } },
    ]);
    const user = userEvent.setup();
    renderApp("/login?next=%2F%3Fsort%3Dpopular", null);
    await user.type(await screen.findByLabelText(/^Username/), "ann");
    await user.type(screen.getByLabelText(/^Password/), "nope");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong username or password.");
    expect(screen.getByLabelText(/^Username/)).toHaveValue("ann");
    await user.clear(screen.getByLabelText(/^Password/));
    await user.type(screen.getByLabelText(/^Password/), "right-password");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("heading", { name: "Models" })).toBeInTheDocument();
    expect(window.location.search).toBe("?sort=popular");
    expect(screen.getByRole("button", { name: "Log out" })).toBeInTheDocument();
    expect(fetcher.find("POST", "/v1/auth/login")).toHaveLength(2);
  });

  it("shows the server's 422 next to the field on signup", async () => {
    mockFetch([{ method: "POST", path: "/v1/auth/signup", reply: { status: 422, json: { detail: [{ loc: ["body", "username"], msg: "this name is taken", type: "value_error" }] } } }]);
    const user = userEvent.setup();
    renderApp("/signup", null);
    await user.type(await screen.findByLabelText(/^Username/), "ann");
    await user.type(screen.getByLabelText(/^Password/), "long-enough");
    await user.click(screen.getByRole("button", { name: "Sign up" }));
    expect(await screen.findByText("this name is taken")).toHaveAttribute("id", "auth-username-error");
    expect(screen.getByLabelText(/^Username/)).toHaveAttribute("aria-invalid", "true");
  });

  it("checks signup fields before sending", async () => {
    const fetcher = mockFetch([]);
    const user = userEvent.setup();
    renderApp("/signup", null);
    await user.type(await screen.findByLabelText(/^Username/), "Ann");
    await user.type(screen.getByLabelText(/^Password/), "short");
    await user.click(screen.getByRole("button", { name: "Sign up" }));
    expect(screen.getByText("3 to 32 lowercase letters, digits or '-', starting with a letter.")).toBeInTheDocument();
    expect(screen.getByText("Use at least 8 characters.")).toBeInTheDocument();
    expect(fetcher.calls).toHaveLength(0);
  });

  it("logs out with the CSRF header", async () => {
    document.cookie = "feather_csrf=k; path=/";
    const fetcher = mockFetch([
      { method: "POST", path: "/v1/auth/logout", reply: { status: 204 } },
      { method: "GET", path: "/v1/models", reply: { json: { items: [] } } },
    ]);
    const user = userEvent.setup();
    renderApp("/", { username: "ann" });
    await user.click(screen.getByRole("button", { name: "Log out" }));
    expect(await screen.findByRole("link", { name: "Log in" })).toBeInTheDocument();
    expect(fetcher.find("POST", "/v1/auth/logout")[0].headers["x-csrf-token"]).toBe("k");
  });

  it("sends an expired session to /login and back, with the form inputs kept", async () => {
    mockFetch([
      { method: "GET", path: "/v1/models/local/hello", reply: { json: modelDetail("local", hello) } },
      { method: "POST", path: "/v1/models/local/hello/runs", times: 1, reply: { status: 401, json: { detail: "your session has expired; log in again" } } },
      { method: "POST", path: "/v1/auth/login", reply: { json: { username: "ann", csrf_token: "c2" } } },
      { method: "POST", path: "/v1/models/local/hello/runs", reply: { status: 201, json: { id: "r9", model: "local/hello", step: "greet", status: "succeeded", outputs: { greeting: "Hello, Zoe!" } } } },
    ]);
    const user = userEvent.setup();
    renderApp("/m/local/hello", { username: "ann" });
    await user.type(await screen.findByLabelText(/^Your name/), "Zoe");
    await user.click(screen.getByRole("button", { name: "Run" }));
    expect(await screen.findByText("Your session has expired. Log in again to continue where you were.")).toBeInTheDocument();
    expect(new URLSearchParams(window.location.search).get("next")).toBe("/m/local/hello");

    await user.type(screen.getByLabelText(/^Username/), "ann");
    await user.type(screen.getByLabelText(/^Password/), "password1");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    const name = await screen.findByLabelText(/^Your name/);
    expect(window.location.pathname).toBe("/m/local/hello");
    expect(name).toHaveValue("Zoe");
    await user.click(screen.getByRole("button", { name: "Run" }));
    expect(await screen.findByText("Hello, Zoe!")).toBeInTheDocument();
  });
});

describe("session start", () => {
  it("asks /v1/me only when the CSRF cookie says there is a session", async () => {
    const fetcher = mockFetch([{ method: "GET", path: "/v1/models", reply: { json: { items: [] } } }]);
    renderWithoutUser("/");
    expect(await screen.findByRole("link", { name: "Log in" })).toBeInTheDocument();
    expect(fetcher.find("GET", "/v1/me")).toHaveLength(0);
  });

  it("shows the user when the session is live, and clears a stale one", async () => {
    document.cookie = "feather_csrf=live; path=/";
    mockFetch([
      { method: "GET", path: "/v1/me", reply: { json: { username: "ann" } } },
      { method: "GET", path: "/v1/models", reply: { json: { items: [] } } },
    ]);
    const first = renderWithoutUser("/");
    expect(await screen.findByText("ann")).toBeInTheDocument();
    first.unmount();

    const fetcher = mockFetch([
      { method: "GET", path: "/v1/me", reply: { status: 401, json: { detail: "your session has expired; log in again" } } },
      { method: "POST", path: "/v1/auth/logout", reply: { status: 204 } },
      { method: "GET", path: "/v1/models", reply: { json: { items: [] } } },
    ]);
    renderWithoutUser("/");
    expect(await screen.findByRole("link", { name: "Log in" })).toBeInTheDocument();
    await waitFor(() => expect(fetcher.find("POST", "/v1/auth/logout")).toHaveLength(1));
    expect(window.location.pathname).toBe("/");
  });
});
