/**
 * Chooses and prepares the login method (`auth` setting): password, a key file, or an SSH agent.
 * Everything that can be checked before dialling is checked here, so a missing passphrase or
 * agent fails at once with INVALID/AUTH instead of after a network round trip.
 */
import { stat } from "node:fs/promises";
import type { AnyAuthMethod, AuthenticationType, AuthHandlerMiddleware } from "ssh2";
import { StorageError } from "../errors.ts";
import type { SftpSettings } from "../settings.ts";
import { expandHome, loadPrivateKey } from "./key-file.ts";

export interface AuthPlan {
  method: "password" | "key" | "agent";
  /** What ssh2 tries, in order. */
  attempt: AnyAuthMethod;
  /** `with a password`, `with the key /home/x/.ssh/id_ed25519`, for messages and the log. */
  description: string;
  /** The fix when the server refuses the login. */
  hint: string;
}

/** The method `auth` names, else key when privateKey is given, else password. */
export function authMethod(settings: SftpSettings): AuthPlan["method"] {
  return settings.auth ?? (settings.privateKey === undefined ? "password" : "key");
}

export async function planAuth(settings: SftpSettings): Promise<AuthPlan> {
  const username = settings.user ?? "";
  if (username === "") throw invalid("The sftp destination needs a user (--set user=…).");
  const method = authMethod(settings);
  switch (method) {
    case "password": {
      if (settings.password === undefined) {
        throw invalid(
          `Logging in as "${username}" needs a password (--set password=…), or a key (--set privateKey=~/.ssh/id_ed25519) or --set auth=agent.`,
        );
      }
      return {
        method,
        attempt: { type: "password", username, password: settings.password },
        description: "with a password",
        hint: `Check the user "${username}" and the password.`,
      };
    }
    case "key": {
      if (settings.privateKey === undefined) {
        throw invalid("auth=key needs privateKey: the path of an OpenSSH or PEM private key file.");
      }
      const key = await loadPrivateKey(settings.privateKey, settings.passphrase);
      const file = expandHome(settings.privateKey);
      return {
        method,
        attempt: { type: "publickey", username, key },
        description: `with the ${key.type} key ${file}`,
        hint: `Check that the public key of ${file} is in ~${username}/.ssh/authorized_keys on the server (ssh-copy-id -i ${file} ${username}@host) and that the user is right.`,
      };
    }
    case "agent": {
      const socket = settings.agent ?? process.env.SSH_AUTH_SOCK;
      if (socket === undefined || socket === "") {
        throw invalid(
          "auth=agent needs an SSH agent: set agent to its socket path, or start ssh-agent so that SSH_AUTH_SOCK is set.",
        );
      }
      const path = expandHome(socket);
      // Windows: "pageant", or the OpenSSH agent's named pipe (not a socket file).
      const windows = process.platform === "win32";
      const found =
        (windows && path === "pageant") ||
        (await stat(path).then(
          (stats) => windows || stats.isSocket(),
          () => false,
        ));
      if (!found) {
        throw invalid(
          `The SSH agent socket "${path}" does not exist or is not a socket. Start ssh-agent or correct the agent setting / SSH_AUTH_SOCK.`,
        );
      }
      return {
        method,
        attempt: { type: "agent", username, agent: path },
        description: `with the keys of the SSH agent at ${path}`,
        hint: `None of the agent's keys was accepted for "${username}": add the right key (ssh-add) or install its public key in ~${username}/.ssh/authorized_keys on the server.`,
      };
    }
  }
}

/**
 * ssh2's `authHandler`: tries the one planned method, then stops. It records which methods the
 * server said it accepts, so a refusal can say "this server only accepts publickey".
 */
export function authHandler(plan: AuthPlan, accepted: { methods?: AuthenticationType[] }) {
  let tried = false;
  const handler: AuthHandlerMiddleware = (methodsLeft, _partialSuccess, next) => {
    if (Array.isArray(methodsLeft)) accepted.methods = methodsLeft;
    // ssh2 reads a returned `false` as "no more methods" (its typings say void).
    if (tried) return false;
    tried = true;
    next(plan.attempt);
    return undefined;
  };
  return handler;
}

/** The sentence to add to a refused login, from the methods the server said it accepts. */
export function refusalHint(
  plan: AuthPlan,
  accepted: readonly AuthenticationType[] | undefined,
): string {
  const wire = plan.method === "password" ? "password" : "publickey";
  if (accepted !== undefined && accepted.length > 0 && !accepted.includes(wire)) {
    return `This server does not accept ${plan.method === "password" ? "passwords" : "keys"} for this user; it offers: ${accepted.join(", ")}. Choose a matching auth setting.`;
  }
  return plan.hint;
}

function invalid(message: string): StorageError {
  return new StorageError("INVALID", message);
}
