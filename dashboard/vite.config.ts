/// <reference types="vitest" />
// Vite builds the dashboard into NETGUARD_DASHBOARD_OUT (the CMake build tree) or dist/;
// `npm run dev` proxies /api to an agent on NETGUARD_API (default http://127.0.0.1:8787).
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: process.env.NETGUARD_DASHBOARD_OUT ?? 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
  server: {
    proxy: { '/api': process.env.NETGUARD_API ?? 'http://127.0.0.1:8787' },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
