/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` serves the portal on :5173 and forwards the API to a running gateway
// (`make up` starts one on :8080); FEATHER_GATEWAY overrides where it is.
const gateway = process.env.FEATHER_GATEWAY ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/v1": { target: gateway, changeOrigin: false },
      "/healthz": { target: gateway },
    },
  },
  build: {
    target: "es2020",
    sourcemap: false,
    assetsInlineLimit: 0,
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    css: false,
    restoreMocks: true,
    unstubGlobals: true,
  },
});
