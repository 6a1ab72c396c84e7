import { QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { ApiError } from "./api/client";
import { keys } from "./api/hooks";
import { AuthProvider } from "./auth/AuthProvider";
import "./styles.css";

const queryClient: QueryClient = new QueryClient({
  defaultOptions: { queries: { refetchOnWindowFocus: true, staleTime: 2_000 } },
  queryCache: new QueryCache({
    // A 401 from any private endpoint means the session expired: re-ask /auth/me so the header flips to Connect.
    onError: (error, query) => {
      if (error instanceof ApiError && error.status === 401 && query.queryKey[0] !== keys.session[0]) {
        void queryClient.invalidateQueries({ queryKey: keys.session });
      }
    },
  }),
});

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root element");

createRoot(root).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <AuthProvider>
        <App />
      </AuthProvider>
    </QueryClientProvider>
  </StrictMode>,
);
